using TltTrainer.Speculative;

namespace TltTrainer.Tests.TestSupport;

/// <summary>A drafter whose proposals a test scripts per row.</summary>
internal sealed class FuncDrafter : IDrafter
{
    private readonly Func<DraftContext, int, DraftTree> _propose;

    public FuncDrafter(Func<DraftContext, int, DraftTree> propose, string name = "scripted")
    {
        _propose = propose;
        Name = name;
    }

    public string Name { get; }
    public int Rounds { get; private set; }
    public void Begin(int rows, int maxLength) { }
    public void ResetRow(int row) { }
    public void MoveRow(int from, int to) { }
    public void Observe(int row, int start, Tensor hidden) { }
    public void Dispose() { }

    public IReadOnlyList<DraftTree> Propose(DraftContext context)
    {
        Rounds++;
        return Enumerable.Range(0, context.Rows).Select(r => _propose(context, r)).ToList();
    }
}
