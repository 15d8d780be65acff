using TltTrainer.Tasks;

namespace TltTrainer.Tests.Tasks;

/// <summary>Packing keeps examples whole, separate and correctly targeted.</summary>
public sealed class PackedBatchBuilderTests
{
    [Fact]
    public void Next_PacksWholeExamplesWithResetPositionsAndResponseOnlyTargets()
    {
        var options = new EmbeddedTargetOptions
        {
            RowsPerBatch = 3, RowLength = 96, CurriculumStartTerms = 2, CurriculumEndTerms = 6, Noise = WorkedSolutionNoise.None,
        };
        var tokenizer = ChainArithmeticTokenizer.Instance;
        using var scope = NewDisposeScope();
        var batch = new PackedBatchBuilder(options).Next(0);
        long[] tokens = batch.Tokens.data<long>().ToArray(), targets = batch.Targets.data<long>().ToArray();
        long[] positions = batch.Positions.data<long>().ToArray();
        bool[] mask = batch.Mask.data<bool>().ToArray();
        int T = options.RowLength, examples = 0, lossTokens = 0;
        for (int b = 0; b < options.RowsPerBatch; b++)
        {
            for (int t = 0; t < T; t++)
            {
                int i = b * T + t;
                if (positions[i] != 0 || tokens[i] != tokenizer.BosId) continue;
                // One example: BOS prompt response, ending where the target is EOS.
                examples++;
                int end = t;
                while (targets[b * T + end] != tokenizer.EosId) end++;
                string text = tokenizer.Decode(tokens.Skip(i).Take(end - t + 1).Select(x => (int)x));
                int eq = text.IndexOf('=');
                var example = ChainArithmeticTask.FromTerms(text[..eq].Split('+').Select(int.Parse).ToArray());
                Assert.Equal(example.Prompt + example.Response, text);
                for (int k = t; k <= end; k++)
                {
                    Assert.Equal(k - t, positions[b * T + k]);
                    bool inResponse = k - t >= example.Prompt.Length;   // predicts a response token or EOS
                    Assert.Equal(inResponse, targets[b * T + k] != PackedBatchBuilder.Ignore);
                    if (inResponse) lossTokens++;
                    for (int j = 0; j < T; j++)   // attends exactly to its own example's past
                        Assert.Equal(j >= t && j <= k, mask[(b * T + k) * T + j]);
                }
            }
        }
        Assert.True(examples >= 3);
        Assert.Equal(lossTokens, batch.LossTokens);
    }

    [Fact]
    public void Next_WithTheDefaultNoise_PacksGuessesSlipsAndRetries_EachEndingInAnAnswer()
    {
        var options = new EmbeddedTargetOptions { RowsPerBatch = 4, RowLength = 96, CurriculumStartTerms = 2, CurriculumEndTerms = 6 };
        var tokenizer = ChainArithmeticTokenizer.Instance;
        var builder = new PackedBatchBuilder(options);
        int guesses = 0, retries = 0, worked = 0;
        for (int step = 0; step < 20; step++)
        {
            using var scope = NewDisposeScope();
            var batch = builder.Next(step);
            long[] tokens = batch.Tokens.data<long>().ToArray(), targets = batch.Targets.data<long>().ToArray();
            long[] positions = batch.Positions.data<long>().ToArray();
            for (int i = 0; i < tokens.Length; i++)
            {
                if (positions[i] != 0 || tokens[i] != tokenizer.BosId) continue;
                int end = i;
                while (targets[end] != tokenizer.EosId) end++;   // an example never runs past its row: EOS comes first
                Assert.Equal(i / options.RowLength, end / options.RowLength);
                string text = tokenizer.Decode(tokens.Skip(i).Take(end - i + 1).Select(x => (int)x));
                string response = text[(text.IndexOf('=') + 1)..];
                Assert.NotNull(ChainArithmeticTask.ExtractAnswer(response));
                if (!response.Contains(';')) guesses++;
                else worked++;
                if (response.Contains(WorkedSolutionNoise.RetryMarker)) retries++;
            }
        }
        Assert.True(guesses > 0 && worked > guesses && retries > 0, $"guesses {guesses}, worked {worked}, with retries {retries}");
    }

    [Fact]
    public void TermLimit_RampsFromStartToEnd()
    {
        var b = new PackedBatchBuilder(new EmbeddedTargetOptions { Steps = 100, CurriculumStartTerms = 4, CurriculumEndTerms = 14, CurriculumRampFraction = 0.5 });
        Assert.Equal(4, b.TermLimit(0));
        Assert.Equal(9, b.TermLimit(25));
        Assert.Equal(14, b.TermLimit(50));
        Assert.Equal(14, b.TermLimit(99));
    }
}
