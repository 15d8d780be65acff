using TltTrainer.Tests.TestSupport;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.Tokenization;

/// <summary>The real TinyStories-656K tokenizer.json (skipped when the shared models folder is absent).</summary>
public sealed class TinyStoriesTokenizerTests
{
    private const string Model = "tinystories-656k";
    private static readonly EncodeOptions NoPrefix = new() { AddPrefixSpace = false };

    private static string TokenizerJson => Path.Combine(SharedModels.GetPath(Model), "tokenizer.json");

    public static TheoryData<string> Texts => new()
    {
        "Once upon a time, there was a little cat.",
        "\"Hi!\" said Lily. \"Can we play?\"",
        "Tom had 3 red balls and 12 blue ones.",
        "The end.\nOne day, the sun came out.\n\nThey were happy!",
        "  two leading spaces; and: odd-punctuation?",
    };

    [SharedModelFact(Model)]
    public void FromTokenizerJson_TinyStories_HasVocabulary2048AndBosFromTemplate()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(TokenizerJson);

        Assert.Equal(2048, tokenizer.VocabularySize);
        Assert.Equal(1, tokenizer.BosId);
        Assert.Equal("<|end_story|>", tokenizer.GetToken(2));
        Assert.Equal(80, tokenizer.GetId("\u2581"));
    }

    [SharedModelFact(Model)]
    public void FromDirectory_TinyStories_ReadsBosEosPadFromConfig()
    {
        var tokenizer = TokenizerLoader.FromDirectory(SharedModels.GetPath(Model));

        Assert.Equal((1, 2, 0), (tokenizer.BosId, tokenizer.EosId, tokenizer.PadId));
    }

    [SharedModelFact(Model)]
    public void Encode_WithoutPrefix_MatchesReferenceBpeOverJsonMerges()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(TokenizerJson);
        var reference = ReferenceBpe.FromTokenizerJson(TokenizerJson);

        foreach (string text in new[] { "Once upon a time,", "She smiled.", "Ben, 42 cats!", "a\nb" })
        {
            var ids = tokenizer.Encode(text, NoPrefix);

            Assert.Equal(reference.Encode(text.Replace(' ', '\u2581')), ids);
            Assert.Equal(text.Replace(' ', '\u2581'), string.Concat(ids.Select(id => tokenizer.GetToken(id))));
        }
    }

    [SharedModelFact(Model)]
    public void Encode_DefaultOptions_PrependsMarkerLikeTheHubTokenizer()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(TokenizerJson);
        var reference = ReferenceBpe.FromTokenizerJson(TokenizerJson);

        var withPrefix = tokenizer.Encode("Once upon a time,");

        Assert.Equal(reference.Encode("\u2581Once\u2581upon\u2581a\u2581time,"), withPrefix);
        Assert.Equal(80, withPrefix[0]); // the lone "▁" the model never saw in training
        Assert.NotEqual(tokenizer.Encode("Once upon a time,", NoPrefix), withPrefix);
    }

    [SharedModelFact(Model)]
    public void Encode_TrainingFormat_IsBosThenTextWithoutMarker()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(TokenizerJson, new TokenizerLoadOptions { EncodeDefaults = NoPrefix with { AddBos = true } });

        var ids = tokenizer.Encode("Once upon a time,");

        Assert.Equal(1, ids[0]);
        Assert.NotEqual(80, ids[1]);
        Assert.Equal("Once upon a time,", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [SharedModelTheory(Model)]
    [MemberData(nameof(Texts))]
    public void EncodeDecode_EitherPrefixSetting_RoundTripsExactly(string text)
    {
        var hubDefault = TokenizerLoader.FromTokenizerJson(TokenizerJson);
        var trainingDefault = TokenizerLoader.FromTokenizerJson(TokenizerJson, new TokenizerLoadOptions { EncodeDefaults = NoPrefix });

        Assert.Equal(text, hubDefault.Decode(hubDefault.Encode(text)));
        Assert.Equal(text, trainingDefault.Decode(trainingDefault.Encode(text)));
    }

    [SharedModelFact(Model)]
    public void Encode_CharacterOutsideVocabulary_BecomesUnkBecauseVocabularyHasNoByteTokens()
    {
        // byte_fallback is on, but this vocabulary has no <0xAB> tokens, so HF's rule falls back to <unk> (id 0), fused.
        var tokenizer = TokenizerLoader.FromTokenizerJson(TokenizerJson);

        var ids = tokenizer.Encode("caf\u00e9\u00e9 ok", NoPrefix);

        Assert.Single(ids, 0);
        Assert.Equal("caf ok", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [SharedModelFact(Model)]
    public void Encode_SpecialTokenText_BecomesItsId()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(TokenizerJson);

        var ids = tokenizer.Encode("The end.<|end_story|>", NoPrefix);

        Assert.Equal(2, ids[^1]);
        Assert.Equal("The end.", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("The end.<|end_story|>", tokenizer.Decode(ids));
    }
}
