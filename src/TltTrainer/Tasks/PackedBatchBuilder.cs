// Packs whole worked examples ([BOS] prompt response, predicting response + EOS) into fixed-size rows. The
// responses carry the recipe's slips and retries (WorkedSolutionNoise); a retry is drawn only if it fits the row.
// Each example keeps its own RoPE positions (restarting at 0, as at inference) and attends only to
// itself (block-diagonal causal mask), so packing never lets examples see each other. Padding slots
// share one segment and attend causally to each other, which keeps every softmax row non-empty (an
// all-masked row would give NaN and poison the backward pass); they carry no loss.
using static TorchSharp.torch;

namespace TltTrainer.Tasks;

/// <summary>One packed training batch. Tensors live in the dispose scope that was current when it was built.</summary>
/// <param name="Tokens">Input ids <c>[B, T]</c> int64.</param>
/// <param name="Targets">Next-token targets <c>[B, T]</c> int64; <see cref="PackedBatchBuilder.Ignore"/> where no loss applies.</param>
/// <param name="Positions">RoPE positions <c>[B, T]</c> int64, restarting at each example.</param>
/// <param name="Mask">Attention mask <c>[B, T, T]</c> bool: block-diagonal causal.</param>
/// <param name="LossTokens">Number of targets that carry loss.</param>
internal sealed record PackedBatch(Tensor Tokens, Tensor Targets, Tensor Positions, Tensor Mask, int LossTokens);

/// <summary>Draws curriculum examples and packs them into <see cref="PackedBatch"/>es.</summary>
internal sealed class PackedBatchBuilder(EmbeddedTargetOptions options)
{
    /// <summary>Target value that cross-entropy ignores.</summary>
    public const long Ignore = -100;

    private readonly ChainArithmeticTokenizer _tokenizer = ChainArithmeticTokenizer.Instance;
    private readonly ChainArithmeticTask _digits = new(new ChainArithmeticOptions { Seed = options.Seed * 2 + 1 });
    private readonly SplitMix64 _random = new(options.Seed * 2 + 2);
    private Sequence? _carry;   // an example drawn for a row it did not fit; starts the next row

    /// <summary>Ids <c>[BOS] prompt response [EOS]</c> and the number of ids before the response.</summary>
    private sealed record Sequence(long[] Ids, int ContextLength);

    /// <summary>
    /// Row tokens of the longest possible first pass with <paramref name="terms"/> terms (all nines, every slip upwards);
    /// retries are only drawn where they fit the row.
    /// </summary>
    public static int LongestSequence(int terms, WorkedSolutionNoise? noise = null)
    {
        var e = ChainArithmeticTask.FromTerms(Enumerable.Repeat(9, terms).ToArray());
        int slipDigits = noise is { SlipProbability: > 0 } ? terms : 0;   // a slip can add a digit to a partial sum
        return 1 + e.Prompt.Length + e.Response.Length + slipDigits;
    }

    /// <summary>Most terms a training example may have at <paramref name="step"/> (linear ramp, then flat).</summary>
    public int TermLimit(int step)
    {
        double ramp = options.CurriculumRampFraction * options.Steps;
        double t = ramp <= 0 ? 1 : Math.Min(1, step / ramp);
        return (int)Math.Round(options.CurriculumStartTerms + t * (options.CurriculumEndTerms - options.CurriculumStartTerms));
    }

    /// <summary>Builds the batch of <paramref name="step"/>.</summary>
    public PackedBatch Next(int step)
    {
        int B = options.RowsPerBatch, T = options.RowLength, limit = TermLimit(step);
        var tokens = new long[B * T];
        var targets = new long[B * T];
        var positions = new long[B * T];
        var segments = new long[B * T];
        Array.Fill(targets, Ignore);
        int lossTokens = 0, segment = 0;
        for (int b = 0; b < B; b++)
        {
            int used = 0;
            while (true)
            {
                var example = _carry ?? Draw(limit);
                int n = example.Ids.Length - 1;   // tokens in the row; the last id is only a target
                if (used + n > T) { _carry = example; break; }
                _carry = null;
                for (int j = 0; j < n; j++)
                {
                    int i = b * T + used + j;
                    tokens[i] = example.Ids[j];
                    positions[i] = j;
                    segments[i] = segment;
                    if (j + 1 >= example.ContextLength) { targets[i] = example.Ids[j + 1]; lossTokens++; }
                }
                used += n;
                segment++;
            }
            for (int j = used; j < T; j++) { positions[b * T + j] = j - used; segments[b * T + j] = -1; }
        }
        var seg = tensor(segments).view(B, T);
        var mask = seg.unsqueeze(2).eq(seg.unsqueeze(1)).logical_and(ones(T, T, ScalarType.Bool).tril().unsqueeze(0));
        return new PackedBatch(tensor(tokens).view(B, T), tensor(targets).view(B, T), tensor(positions).view(B, T), mask, lossTokens);
    }

    /// <summary>An example whose term count follows P(n) ∝ n^-β on [2, <paramref name="limit"/>].</summary>
    private Sequence Draw(int limit)
    {
        double total = 0;
        for (int n = 2; n <= limit; n++) total += Math.Pow(n, -options.TrainingTailExponent);
        double u = _random.NextDouble() * total;
        int terms = limit;
        for (int n = 2; n < limit; n++)
        {
            u -= Math.Pow(n, -options.TrainingTailExponent);
            if (u < 0) { terms = n; break; }
        }
        var e = _digits.SampleWithTerms(terms, 1)[0];
        var digits = e.Prompt.Where(char.IsAsciiDigit).Select(c => c - '0').ToArray();   // single-digit terms
        string response = options.Noise.Write(digits, _random, maxLength: options.RowLength - 1 - e.Prompt.Length);
        var ids = new long[e.Prompt.Length + response.Length + 2];
        ids[0] = _tokenizer.BosId;
        int k = 1;
        foreach (int id in _tokenizer.Encode(e.Prompt + response)) ids[k++] = id;
        ids[k] = _tokenizer.EosId;
        return new Sequence(ids, 1 + e.Prompt.Length);
    }
}
