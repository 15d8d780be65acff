// BOS/EOS/pad named as strings (how configuration files give them), resolved to ids once per tokenizer.
namespace TltTrainer.Tokenization;

internal readonly record struct SpecialTokenNames(string? Bos, string? Eos, string? Pad)
{
    /// <summary>Names from <paramref name="options"/> win over those read from files.</summary>
    internal SpecialTokenNames OverriddenBy(TokenizerLoadOptions options) =>
        new(options.BosToken ?? Bos, options.EosToken ?? Eos, options.PadToken ?? Pad);

    /// <summary>Ids of the named tokens; a name that is not a token is a broken configuration.</summary>
    /// <exception cref="InvalidDataException">A name is not in the vocabulary.</exception>
    internal (int? Bos, int? Eos, int? Pad) Resolve(Func<string, int?> lookup, string source)
    {
        return (Find(Bos, "BOS"), Find(Eos, "EOS"), Find(Pad, "pad"));

        int? Find(string? name, string role) => name is null
            ? null
            : lookup(name) ?? throw new InvalidDataException(
                $"The {role} token '{name}' configured for '{source}' is not in its vocabulary.");
    }
}
