// Plain decoding's draws for N positions at once, on the logits' device, with one copy to the host: the
// token, whether the draw is robust to the path tolerance, the token's log-probability and whether the row's
// logits were finite. The same decisions as TokenDistribution (the host reference, float64) in batched
// tensor ops: greedy is the argmax of the raw logits; sampled rows are scaled by temperature, cut to the
// top-k (ties at the cut kept) and to the smallest most-likely set reaching top-p, and drawn by Gumbel-max
// under SamplingNoise. When every sampled row cuts by top-k or top-p, the kept set lies among the most
// likely tokens, so everything after one top-K runs on those K candidates (2,048 for top-p): at a 152 k
// vocabulary that is most of the saving. A row whose kept set reaches past the candidates (a near-flat
// distribution under top-p, top-k ties running past them) is drawn again over the whole vocabulary, a
// second synchronisation for those steps only. A decision within a margin of the tolerance is flagged, as
// on the host, and the caller redoes it on the canonical path: so the device draws equal the host
// reference token for token (float32 here against float64 there moves a score by ~1e-6, far inside the
// margin). No tensor of the vocabulary's width is read to the host. It runs on rollout workers while other
// threads allocate, so no Scalar is made implicitly here (see Models.RootedScalars).
using TltTrainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Sampling;

/// <summary>A position to draw: its request's sampling options and its noise.</summary>
internal readonly record struct DrawRequest(SamplingOptions Options, SamplingNoise Noise);

/// <summary>The draws of N positions: token, robustness, log-probability of the token, finiteness of the row's logits.</summary>
internal sealed record DrawResults(int[] Tokens, bool[] Robust, float[] LogProbs, bool[] Finite);

internal static class DeviceSampler
{
    /// <summary>Tokens searched for a top-p cut before the whole vocabulary is sorted.</summary>
    public const int TopPCandidates = 2048;

    /// <summary>Candidates beyond a top-k's k at least, so that ties at the cut rarely run past them.</summary>
    public const int TieRoom = 64;

    private static readonly Scalar NegativeInfinity = double.NegativeInfinity;   // rooted: see RootedScalars
    private static readonly Scalar One = 1;

    /// <summary>Draws for every row of <paramref name="logits"/> <c>[N, V]</c>.</summary>
    /// <param name="logits">Logits <c>[N, V]</c>.</param>
    /// <param name="rows">One request per row.</param>
    /// <param name="tolerance">Path tolerance of the robustness flags (0: every draw robust).</param>
    /// <param name="columnIds">The token id of each column <c>[V]</c> int64 when the columns are a subset of a larger vocabulary
    /// (a reduced draft vocabulary): the noise is that id's and the tokens returned are ids; default column = id.</param>
    public static DrawResults Draw(Tensor logits, IReadOnlyList<DrawRequest> rows, double tolerance, Tensor? columnIds = null)
    {
        var (results, wide) = DrawOnce(logits, rows, tolerance, columnIds, candidates: true);
        if (wide.Length == 0) return results;
        // Rare: rows whose kept set reaches past the candidates (a flat top-p row, top-k ties running past them) are drawn
        // again over the whole vocabulary: a second synchronisation for those steps only.
        using var scope = NewDisposeScope();
        using var index = tensor(wide.Select(i => (long)i).ToArray(), device: logits.device);
        var (again, _) = DrawOnce(logits.index_select(0, index), wide.Select(i => rows[i]).ToList(), tolerance, columnIds, candidates: false);
        for (int k = 0; k < wide.Length; k++)
        {
            int i = wide[k];
            (results.Tokens[i], results.Robust[i], results.LogProbs[i], results.Finite[i]) = (again.Tokens[k], again.Robust[k], again.LogProbs[k], again.Finite[k]);
        }
        return results;
    }

    /// <summary>Times the whole-vocabulary pass was needed (rows drawn again after the candidates fell short); for tests and benchmarks.</summary>
    public static long WidePasses => Interlocked.Read(ref _widePasses);

    private static long _widePasses;

    /// <summary>One pass of <see cref="Draw"/>; with <paramref name="candidates"/>, also the rows that need the whole vocabulary.</summary>
    private static (DrawResults Results, int[] Wide) DrawOnce(Tensor logits, IReadOnlyList<DrawRequest> rows, double tolerance, Tensor? columnIds, bool candidates)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int n = rows.Count, vocab = (int)logits.shape[1];
        var device = logits.device;
        var raw = logits.to(ScalarType.Float32);
        bool anyGreedy = rows.Any(r => r.Options.IsGreedy), anySampled = rows.Any(r => !r.Options.IsGreedy);
        var greedyRow = tensor(rows.Select(r => r.Options.IsGreedy).ToArray(), device: device);                 // [N]

        Tensor token = zeros(n, ScalarType.Int64, device), logProb = zeros(n, ScalarType.Float64, device);
        Tensor robust = ones(n, ScalarType.Bool, device), wide = zeros(n, ScalarType.Bool, device);
        if (anyGreedy)
        {
            var (top, index) = raw.topk(Math.Min(2, vocab), 1, true, true);
            var best = index.select(1, 0);
            var gap = vocab > 1 ? top.select(1, 0) - top.select(1, 1) : Filled(n, float.PositiveInfinity, device);
            var lp = raw.gather(1, best.unsqueeze(1)).squeeze(1).to(ScalarType.Float64) - raw.to(ScalarType.Float64).logsumexp(1, false);
            token = best;
            logProb = lp;
            robust = tolerance > 0 ? gap.gt(Threshold(4 * tolerance, device)) : robust;
        }
        if (anySampled)
        {
            var sampled = candidates && rows.All(r => r.Options.IsGreedy || Restricted(r.Options, vocab))
                ? SampledAmongCandidates(raw, rows, tolerance, vocab, device, columnIds)
                : Sampled(raw, rows, tolerance, vocab, device, columnIds);
            token = anyGreedy ? where(greedyRow, token, sampled.Token) : sampled.Token;
            logProb = anyGreedy ? where(greedyRow, logProb, sampled.LogProb) : sampled.LogProb;
            robust = anyGreedy ? where(greedyRow, robust, sampled.Robust) : sampled.Robust;
            if (sampled.Wide is not null) wide = greedyRow.logical_not().logical_and(sampled.Wide);
        }
        if (columnIds is not null) token = columnIds.index_select(0, token);
        var finite = raw.isfinite().all(1);
        var packed = stack(new[] { token.to(ScalarType.Float64), robust.to(ScalarType.Float64), logProb.to(ScalarType.Float64), finite.to(ScalarType.Float64),
            wide.to(ScalarType.Float64) }, 1).cpu();
        var host = packed.data<double>().ToArray();                                                             // the one host copy
        var results = new DrawResults(
            Enumerable.Range(0, n).Select(i => (int)host[i * 5]).ToArray(),
            Enumerable.Range(0, n).Select(i => host[i * 5 + 1] != 0).ToArray(),
            Enumerable.Range(0, n).Select(i => (float)host[i * 5 + 2]).ToArray(),
            Enumerable.Range(0, n).Select(i => host[i * 5 + 3] != 0).ToArray());
        var wideRows = Enumerable.Range(0, n).Where(i => host[i * 5 + 4] != 0).ToArray();
        if (wideRows.Length > 0) Interlocked.Increment(ref _widePasses);
        return (results, wideRows);
    }

    /// <summary>
    /// Whether <see cref="ChainGumbel"/> and <see cref="GumbelMax"/> can stand in for <see cref="Draw"/> at tolerance 0 for these rows:
    /// no row cuts its distribution by top-k or top-p (the shortcut has no cuts), and the noise of <paramref name="depth"/>
    /// positions at once stays small (at most <see cref="ChainNoiseElements"/> numbers).
    /// </summary>
    public static bool ChainShortcutApplies(IReadOnlyList<DrawRequest> rows, int depth, int vocab) =>
        rows.All(r => r.Options.IsGreedy || !Restricted(r.Options, vocab)) && (long)rows.Count * depth * vocab <= ChainNoiseElements;

    /// <summary>The most noise <see cref="ChainGumbel"/> makes at once: 4 M float64 (32 MiB).</summary>
    public const long ChainNoiseElements = 1L << 22;

    /// <summary>
    /// Gumbel noise <c>[N, depth, V]</c> float64 of <paramref name="depth"/> consecutive positions of every row, starting at each
    /// row's <see cref="DrawRequest.Noise"/>; zeros for greedy rows. A drafted chain makes its noise once instead of once per depth:
    /// the same numbers <see cref="Draw"/> would make position by position.
    /// </summary>
    public static Tensor ChainGumbel(IReadOnlyList<DrawRequest> rows, int depth, int vocab, Device device, Tensor? columnIds = null)
    {
        using var scope = NewDisposeScope();
        int n = rows.Count;
        var gumbel = Gumbel(rows.SelectMany(r => Enumerable.Range(0, depth).Select(i => r with { Noise = r.Noise.After(i) })).ToList(), vocab, device, columnIds)
            .view(n, depth, vocab);
        var greedy = tensor(rows.Select(r => r.Options.IsGreedy).ToArray(), device: device).view(n, 1, 1);
        return where(greedy, zeros(1, ScalarType.Float64, device), gumbel).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The tokens <see cref="Draw"/> picks at tolerance 0 for rows without top-k or top-p (see <see cref="ChainShortcutApplies"/>):
    /// greedy rows' argmax, sampled rows' Gumbel-max of <see cref="Processed"/>'s log-probabilities under <paramref name="gumbel"/>
    /// <c>[N, V]</c> (a depth of <see cref="ChainGumbel"/>); token ids through <paramref name="columnIds"/>. Nothing but the
    /// tokens is read back: a drafter needs no log-probability, robustness flag or finiteness check.
    /// </summary>
    public static int[] GumbelMax(Tensor logits, Tensor gumbel, IReadOnlyList<DrawRequest> rows, Tensor? columnIds = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = logits.device;
        var raw = logits.to(ScalarType.Float32);
        int vocab = (int)raw.shape[1];
        var (logp, _, _) = Processed(raw, rows, 0, vocab, device);
        // topk's first, as in Draw: the same token among exact ties (argmax may break them differently).
        var sampled = logp.add(gumbel, One).topk(Math.Min(2, vocab), 1, true, true).indexes.select(1, 0);
        var greedy = tensor(rows.Select(r => r.Options.IsGreedy).ToArray(), device: device);
        var token = where(greedy, raw.topk(Math.Min(2, vocab), 1, true, true).indexes.select(1, 0), sampled);
        if (columnIds is not null) token = columnIds.index_select(0, token);
        return token.to(ScalarType.Int32).cpu().data<int>().ToArray();
    }

    /// <summary>Sampled rows: temperature, top-k, top-p, Gumbel-max; the winner, its log-probability and robustness.</summary>
    private static SampledDraws Sampled(Tensor raw, IReadOnlyList<DrawRequest> rows, double tolerance, int vocab, Device device, Tensor? columnIds)
    {
        var (logp, robust, scaled) = Processed(raw, rows, tolerance, vocab, device);
        // Gumbel-max: the kept token with the largest log p + g; fragile when the runner-up is within the margin.
        var scores = logp.add(Gumbel(rows, vocab, device, columnIds), One);
        var (top, index) = scores.topk(Math.Min(2, vocab), 1, true, true);
        var token = index.select(1, 0);
        if (tolerance > 0 && vocab > 1)
        {
            var gap = top.select(1, 0) - top.select(1, 1);
            robust = robust.logical_and(gap.gt(scaled).logical_or(top.select(1, 1).isinf()));
        }
        return new SampledDraws(token, logp.gather(1, token.unsqueeze(1)).squeeze(1), robust, null);
    }

    /// <summary>Sampled rows' tokens, log-probabilities and robustness <c>[N]</c>, and which rows need the whole vocabulary (null: none).</summary>
    private sealed record SampledDraws(Tensor Token, Tensor LogProb, Tensor Robust, Tensor? Wide);

    /// <summary>Whether a sampled row keeps a set cut by top-k or top-p (which then lies among the most likely tokens).</summary>
    private static bool Restricted(SamplingOptions options, int vocab) => (options.TopK > 0 && options.TopK < vocab) || options.TopP < 1;

    /// <summary>
    /// <see cref="Sampled"/> for batches whose sampled rows all use top-k or top-p: the kept set lies among the K most likely
    /// tokens (K = the largest top-k + 1, or <see cref="TopPCandidates"/> for top-p), so after one top-K over the vocabulary
    /// (and the row's log-normaliser) every decision — cuts, renormalisation, Gumbel-max with the noise of just those token ids —
    /// is made on <c>[N, K]</c>: the same kept set and the same winner as over the whole vocabulary, at a fraction of the cost.
    /// A row whose top-p cut lies beyond the candidates, or whose top-k ties run past them, is flagged wide: <see cref="Draw"/>
    /// draws it again over the whole vocabulary. (Greedy rows ride along; the caller takes their argmax.)
    /// </summary>
    private static SampledDraws SampledAmongCandidates(Tensor raw, IReadOnlyList<DrawRequest> rows, double tolerance, int vocab, Device device, Tensor? columnIds)
    {
        int n = rows.Count;
        var topK = TopKs(rows, vocab);
        var topP = rows.Select(r => !r.Options.IsGreedy && r.Options.TopP < 1 ? r.Options.TopP : 1.0).ToArray();
        // Top-k needs its k plus room for ties at the cut (bf16 logits tie often); top-p its candidates.
        int k = Math.Min(vocab, Math.Max(topP.Any(p => p < 1) ? TopPCandidates : 0, topK.Max() == 0 ? 0 : Math.Max(2 * topK.Max(), topK.Max() + TieRoom)));
        var temperature = tensor(rows.Select(r => r.Options.IsGreedy ? 1.0 : r.Options.Temperature).ToArray(), device: device).view(n, 1);
        var z = raw.to(ScalarType.Float64) / temperature;                                                        // [N, V]
        var logNormalizer = z.logsumexp(1, true);                                                                // [N, 1]
        var (values, order) = z.topk(k, 1, true, true);                                                          // [N, K], descending
        var logp = values - logNormalizer;
        var robust = ones(n, ScalarType.Bool, device);
        var wide = zeros(n, ScalarType.Bool, device);
        var scaled = Margins(rows, tolerance, device);

        if (topK.Any(x => x > 0))
        {
            // Keep the candidates at or above the k-th largest (ties kept), as over the whole vocabulary.
            var (has, threshold, cutRobust) = TopKCut(values, topK, temperature, tolerance, device);
            robust = robust.logical_and(cutRobust);
            // Renormalised over the kept set for top-k rows only: the others keep their whole-vocabulary log-probabilities.
            logp = where(has.view(n, 1), logp.masked_fill(values.lt(threshold.unsqueeze(1)), NegativeInfinity).log_softmax(1), logp);
            // Ties with the k-th that reach the last candidate may continue beyond it: those rows are drawn again, wide.
            if (k < vocab) wide = wide.logical_or(has.logical_and(values.select(1, k - 1).ge(threshold)));
        }
        if (topP.Any(p => p < 1))
        {
            var (keep, massGap, swapGap, reached) = TopPSorted(logp.exp(), topP, vocab, device);
            logp = logp.masked_fill(keep.logical_not(), NegativeInfinity).log_softmax(1);
            if (tolerance > 0) robust = robust.logical_and(massGap.gt(scaled)).logical_and(swapGap.gt(scaled));
            wide = wide.logical_or(reached.logical_not());
        }
        var ids = columnIds is null ? order : columnIds.index_select(0, order.reshape(-1)).view(order.shape);
        var gumbel = NoiseTensors.Uniforms(rows.Select(r => r.Noise).ToList(), k, device, ids).log().neg().log().neg();
        var scores = logp.add(gumbel, One);
        var (top, index) = scores.topk(Math.Min(2, k), 1, true, true);
        var winner = index.select(1, 0).unsqueeze(1);
        if (tolerance > 0 && k > 1)
        {
            var gap = top.select(1, 0) - top.select(1, 1);
            robust = robust.logical_and(gap.gt(scaled).logical_or(top.select(1, 1).isinf()));
        }
        return new SampledDraws(order.gather(1, winner).squeeze(1), logp.gather(1, winner).squeeze(1), robust, wide);
    }

    /// <summary>
    /// The <paramref name="k"/> best tokens of each row by log q + g (greedy rows: by log q alone), with their log q, where q is
    /// the row's processed distribution (temperature, top-k, top-p) and g its Gumbel noise: a draw of k tokens without
    /// replacement whose first is the row's Gumbel-max draw (coupled draft trees). Tokens outside q's support come last.
    /// </summary>
    /// <param name="columnIds">As in <see cref="Draw"/>: the token id of each column when the columns are a subset.</param>
    public static (int[] Tokens, double[] LogProbs) TopK(Tensor logits, IReadOnlyList<DrawRequest> rows, int k, Tensor? columnIds = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int n = rows.Count, vocab = (int)logits.shape[1];
        var device = logits.device;
        var raw = logits.to(ScalarType.Float32);
        var (logp, _, _) = Processed(raw, rows, 0, vocab, device);
        var greedyRow = tensor(rows.Select(r => r.Options.IsGreedy).ToArray(), device: device).view(n, 1);
        var noise = where(greedyRow, zeros(1, ScalarType.Float64, device), Gumbel(rows, vocab, device, columnIds));
        // −inf + g stays −inf; among such ties topk may pick any: they are the last children and score as impossible.
        var (_, index) = logp.add(noise, One).topk(Math.Min(k, vocab), 1, true, true);
        var chosen = logp.gather(1, index);
        var ids = columnIds is null ? index : columnIds.index_select(0, index.reshape(-1)).view(index.shape);
        var packed = cat(new[] { ids.to(ScalarType.Float64), chosen }, 1).cpu();
        var host = packed.data<double>().ToArray();
        int width = (int)index.shape[1];
        var tokens = new int[n * width];
        var logProbs = new double[n * width];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < width; c++)
            {
                tokens[i * width + c] = (int)host[i * 2 * width + c];
                logProbs[i * width + c] = host[i * 2 * width + width + c];
            }
        return (tokens, logProbs);
    }

    /// <summary>Gumbel noise <c>[N, V]</c> float64 of the rows' positions.</summary>
    private static Tensor Gumbel(IReadOnlyList<DrawRequest> rows, int vocab, Device device, Tensor? columnIds = null) =>
        NoiseTensors.Uniforms(rows.Select(r => r.Noise).ToList(), vocab, device, columnIds).log().neg().log().neg();

    /// <summary>
    /// Log-probabilities <c>[N, V]</c> float64 after temperature, top-k and top-p (−∞ outside the kept set), whether the cuts
    /// are robust to the tolerance, and the per-row score margin 4t/T.
    /// </summary>
    private static (Tensor LogP, Tensor Robust, Tensor Scaled) Processed(Tensor raw, IReadOnlyList<DrawRequest> rows, double tolerance, int vocab, Device device)
    {
        int n = rows.Count;
        // float64 from here: a log-softmax over 152 k float32 logits is off by ~3e-5, the log-probs must be within 1e-5.
        var temperature = tensor(rows.Select(r => r.Options.IsGreedy ? 1.0 : r.Options.Temperature).ToArray(), device: device).view(n, 1);
        var z = raw.to(ScalarType.Float64) / temperature;                                                        // [N, V]
        var robust = ones(n, ScalarType.Bool, device);
        var scaled = Margins(rows, tolerance, device);

        // Top-k: keep tokens at or above the k-th largest (ties kept); the cut is fragile when the k-th and (k+1)-th are close.
        var topK = TopKs(rows, vocab);
        if (topK.Any(k => k > 0))
        {
            var (values, _) = z.topk(Math.Min(topK.Max() + 1, vocab), 1, true, true);
            var (_, threshold, cutRobust) = TopKCut(values, topK, temperature, tolerance, device);
            z = z.masked_fill(z.lt(threshold.unsqueeze(1)), NegativeInfinity);
            robust = robust.logical_and(cutRobust);
        }
        var logp = z.log_softmax(1);

        // Top-p: keep the smallest most-likely set whose mass reaches p.
        var topP = rows.Select(r => !r.Options.IsGreedy && r.Options.TopP < 1 ? r.Options.TopP : 1.0).ToArray();
        if (topP.Any(p => p < 1))
        {
            var (keep, massGap, swapGap) = TopP(logp.exp(), topP, vocab, device);
            logp = logp.masked_fill(keep.logical_not(), NegativeInfinity).log_softmax(1);
            if (tolerance > 0) robust = robust.logical_and(massGap.gt(scaled)).logical_and(swapGap.gt(scaled));
        }
        return (logp, robust, scaled);
    }

    /// <summary>
    /// The top-p keep mask <c>[N, V]</c> and, per row, how far the cut is from moving (mass and swap gaps; 0 for a row whose cut
    /// lies beyond the <see cref="TopPCandidates"/> searched, so that its draw is redone on the host).
    /// </summary>
    private static (Tensor Keep, Tensor MassGap, Tensor SwapGap) TopP(Tensor probs, double[] topP, int vocab, Device device)
    {
        int n = topP.Length;
        var (sorted, order) = probs.sort(1, true);                                                               // [N, V]: the whole vocabulary
        var (keepSorted, massGap, swapGap, _) = TopPSorted(sorted, topP, vocab, device);
        var keep = zeros(n, vocab, ScalarType.Bool, device).scatter(1, order, keepSorted);
        var disabled = tensor(topP.Select(x => x >= 1).ToArray(), device: device);
        return (keep.logical_or(disabled.view(n, 1)), massGap, swapGap);
    }

    /// <summary>
    /// <see cref="TopP"/> on probabilities <c>[N, K]</c> already sorted in descending order (the K most likely of <paramref name="vocab"/>
    /// tokens): the keep mask <c>[N, K]</c> (all kept for rows without top-p) and the gaps.
    /// </summary>
    private static (Tensor Keep, Tensor MassGap, Tensor SwapGap, Tensor Reached) TopPSorted(Tensor sorted, double[] topP, int vocab, Device device)
    {
        int n = topP.Length, candidates = (int)sorted.shape[1];
        var p = tensor(topP, device: device);                                                                    // [N] float64
        var cumulative = sorted.cumsum(1);
        var before = cumulative.lt(p.view(n, 1)).sum(1);                                                         // tokens before the cut token
        var reached = before.lt(Filled(n, candidates, device));
        using Scalar lastIndex = (long)(candidates - 1);
        var cut = before.clamp_max(lastIndex).view(n, 1);                                                        // index of the last kept token
        var keepSorted = Range(candidates, device).view(1, -1).le(cut);
        var massAt = cumulative.gather(1, cut).squeeze(1);
        var massBefore = (cumulative - sorted).gather(1, cut).squeeze(1);
        var massGap = minimum(massAt - p, p - massBefore);
        var lastKept = sorted.gather(1, cut).squeeze(1);
        var firstDropped = sorted.gather(1, cut.add(Filled(1, 1L, device), One).clamp_max(lastIndex)).squeeze(1);
        var anotherToken = cut.squeeze(1).lt(Filled(n, vocab - 1, device));
        var swapGap = where(anotherToken, (lastKept - firstDropped) / lastKept, Filled(n, double.PositiveInfinity, device));
        var disabled = tensor(topP.Select(x => x >= 1).ToArray(), device: device);
        var infinite = Filled(n, double.PositiveInfinity, device);
        var zero = Filled(n, 0.0, device);
        massGap = where(disabled, infinite, where(reached, massGap, zero));
        return (keepSorted.logical_or(disabled.view(n, 1)), massGap, where(disabled, infinite, swapGap), reached.logical_or(disabled));
    }

    /// <summary>Each row's top-k, 0 where it cuts nothing (greedy rows, no top-k, or a k of at least the vocabulary).</summary>
    private static int[] TopKs(IReadOnlyList<DrawRequest> rows, int vocab) =>
        rows.Select(r => !r.Options.IsGreedy && r.Options.TopK > 0 && r.Options.TopK < vocab ? r.Options.TopK : 0).ToArray();

    /// <summary>Per row, the score margin 4t/T within which a decision is not robust.</summary>
    private static Tensor Margins(IReadOnlyList<DrawRequest> rows, double tolerance, Device device) =>
        tensor(rows.Select(r => 4 * tolerance / (r.Options.IsGreedy ? 1 : r.Options.Temperature)).ToArray(), device: device);

    /// <summary>
    /// The top-k cut from each row's largest scores <paramref name="sorted"/> <c>[N, K]</c> (descending, K &gt; every k): which rows
    /// cut, the k-th largest score (−∞ for rows that do not cut) and whether the cut is robust, i.e. the k-th and (k+1)-th
    /// scores are more than the tolerance's margin apart.
    /// </summary>
    private static (Tensor Has, Tensor Threshold, Tensor Robust) TopKCut(Tensor sorted, int[] topK, Tensor temperature, double tolerance, Device device)
    {
        int n = topK.Length, width = (int)sorted.shape[1];
        var at = tensor(topK.Select(k => (long)Math.Max(k - 1, 0)).ToArray(), device: device).view(n, 1);
        var after = tensor(topK.Select(k => (long)Math.Min(k, width - 1)).ToArray(), device: device).view(n, 1);
        var has = tensor(topK.Select(k => k > 0).ToArray(), device: device);
        var threshold = where(has, sorted.gather(1, at).squeeze(1), Filled(n, double.NegativeInfinity, device));
        var next = sorted.gather(1, after).squeeze(1);
        var robust = tolerance > 0
            ? has.logical_not().logical_or(((threshold - next) * temperature.squeeze(1)).gt(tensor(4 * tolerance, device: device)))
            : ones(n, ScalarType.Bool, device);
        return (has, threshold, robust);
    }

    /// <summary>[n] float32 filled with <paramref name="value"/> (from a host array: full() would take an implicit Scalar).</summary>
    private static Tensor Filled(int n, float value, Device device) => tensor(Enumerable.Repeat(value, n).ToArray(), device: device);

    /// <summary>[n] float64 filled with <paramref name="value"/>.</summary>
    private static Tensor Filled(int n, double value, Device device) => tensor(Enumerable.Repeat(value, n).ToArray(), device: device);

    /// <summary>[n] int64 filled with <paramref name="value"/>.</summary>
    private static Tensor Filled(int n, long value, Device device) => tensor(Enumerable.Repeat(value, n).ToArray(), device: device);

    /// <summary>[n] int64 0, 1, …, n − 1.</summary>
    private static Tensor Range(int n, Device device)
    {
        var values = new long[n];
        for (int i = 0; i < n; i++) values[i] = i;
        return tensor(values, device: device);
    }

    private static Tensor Threshold(double value, Device device) => tensor((float)value, device: device);
}
