// Runs every collective of the binding on inputs that depend on the rank, and writes what each rank
// holds afterwards as JSON (name → values); the test checks them against hand-computed results.
using System.Text.Json;
using TltTrainer.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.MpiHost;

internal static class CollectivesMode
{
    /// <summary>Times an in-place all-reduce of --mb megabytes of float32 (default 64), --iterations times (default 10).</summary>
    public static int Bench(ICommunicator c, HostArguments args)
    {
        long elements = args.Int("mb", 64) * (1L << 20) / sizeof(float);
        using var t = ones(elements);
        c.AllReduce(t);                                       // warm-up (connections, pinned pages)
        int iterations = args.Int("iterations", 10);
        c.Barrier();
        var before = c.CommunicationTime;
        for (int i = 0; i < iterations; i++) c.AllReduce(t);
        double ms = (c.CommunicationTime - before).TotalMilliseconds / iterations;
        Console.WriteLine($"rank {c.Rank}/{c.Size}: all-reduce of {elements * 4 >> 20} MiB float32 in place: {ms:F1} ms ({elements * 4 / ms / 1e6:F2} GB/s)");
        return 0;
    }

    public static int Run(ICommunicator c, HostArguments args)
    {
        int r = c.Rank;
        var results = new Dictionary<string, double[]>();
        static double[] Values(Tensor t) => t.to_type(ScalarType.Float64).data<double>().ToArray();

        using (var t = tensor(new float[] { 1, 2, 3 }) * (r + 1))
        {
            c.AllReduce(t);                                   // in place on the tensor's own storage
            results["allreduce_sum_f32"] = Values(t);
        }
        using (var whole = arange(10, dtype: ScalarType.Float32) * (r + 1))
        {
            c.AllReduce(whole.narrow(0, 2, 3));               // a contiguous view with a storage offset
            results["allreduce_view_f32"] = Values(whole);
        }
        using (var strided = (arange(6, dtype: ScalarType.Float64) * (r + 1)).view(2, 3).t())
        {
            c.AllReduce(strided);                             // non-contiguous: through a host copy
            results["allreduce_strided_f64"] = Values(strided.contiguous());
        }
        using (var t = tensor(new long[] { r, 10 - r }))
        {
            c.AllReduce(t, ReduceOperation.Max);
            results["allreduce_max_i64"] = Values(t);
        }
        using (var t = tensor(new int[] { r + 5, -r }))
        {
            c.AllReduce(t, ReduceOperation.Min);
            results["allreduce_min_i32"] = Values(t);
        }
        var span = new double[] { 0.5 * (r + 1), r };
        c.AllReduce<double>(span);
        results["allreduce_span_f64"] = span;

        int root = c.Size - 1;
        using (var t = full(4, (float)(7 * r + 1)))
        {
            c.Broadcast(t, root);
            results["broadcast_f32"] = Values(t);
        }
        using (var t = full(3, 1.5f + r, dtype: ScalarType.BFloat16))
        {
            c.Broadcast(t, root);                             // any dtype moves as bytes
            results["broadcast_bf16"] = Values(t);
        }
        var bytes = new byte[] { (byte)(r + 40), (byte)(r + 41) };
        c.Broadcast<byte>(bytes, 0);
        results["broadcast_span_u8"] = bytes.Select(b => (double)b).ToArray();

        using (var send = tensor(new float[] { r, r + 0.5f }))
        using (var receive = zeros(c.Size, 2))
        {
            c.AllGather(send, receive);
            results["allgather_f32"] = Values(receive.flatten());
        }
        var gathered = new long[c.Size * 3];
        c.AllGather<long>(new long[] { r, r * 100, -r }, gathered);
        results["allgather_span_i64"] = gathered.Select(v => (double)v).ToArray();

        // Non-blocking barrier: rank 1 enters 300 ms late, so rank 0 polls it pending first; both then pass.
        if (r == 1) Thread.Sleep(300);
        int pendingPolls = 0;
        using (var barrier = c.StartBarrier())
            while (!barrier.Poll()) { pendingPolls++; Thread.Sleep(1); }
        results["ibarrier_waited"] = new double[] { pendingPolls > 0 ? 1 : 0 };
        c.Barrier();
        results["rank_size"] = new double[] { r, c.Size };
        Directory.CreateDirectory(args.Out);
        File.WriteAllText(Path.Combine(args.Out, $"collectives-rank{r}.json"), JsonSerializer.Serialize(results));
        File.WriteAllText(Path.Combine(args.Out, $"description-rank{r}.txt"), c.Description);
        return 0;
    }
}
