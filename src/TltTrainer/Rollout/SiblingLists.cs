// The Siblings view of a draft round. Built per row by copying the group's list minus the row itself,
// it cost O(rows × group size) references every round: 20,000 requests of one group took ~3 GB and
// most of the round's time. This view costs O(1) per row and only reads a row's group when a drafter
// asks for it (most drafters never do).
namespace TltTrainer.Rollout;

/// <summary>Per running row: the token lists of its group's other requests (none for an ungrouped request).</summary>
internal sealed class SiblingLists : IReadOnlyList<IReadOnlyList<IReadOnlyList<int>>>
{
    private static readonly IReadOnlyList<IReadOnlyList<int>> None = Array.Empty<IReadOnlyList<int>>();
    private readonly IReadOnlyList<RunningSequence> _rows;
    private readonly IReadOnlyDictionary<long, List<List<int>>> _groups;

    public SiblingLists(IReadOnlyList<RunningSequence> rows, IReadOnlyDictionary<long, List<List<int>>> groups)
    {
        _rows = rows;
        _groups = groups;
    }

    public int Count => _rows.Count;

    public IReadOnlyList<IReadOnlyList<int>> this[int row]
    {
        get
        {
            var seq = _rows[row];
            return _groups.TryGetValue(seq.Request.GroupId, out var members) ? new AllBut(members, seq.Tokens) : None;
        }
    }

    public IEnumerator<IReadOnlyList<IReadOnlyList<int>>> GetEnumerator()
    {
        for (int r = 0; r < Count; r++) yield return this[r];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>A group's members without one of them (found by reference), without copying the list.</summary>
    private sealed class AllBut : IReadOnlyList<IReadOnlyList<int>>
    {
        private readonly List<List<int>> _members;
        private readonly int _skip;

        public AllBut(List<List<int>> members, List<int> self)
        {
            _members = members;
            _skip = members.FindIndex(m => ReferenceEquals(m, self));   // -1: not a member, nothing skipped
        }

        public int Count => _skip < 0 ? _members.Count : _members.Count - 1;

        public IReadOnlyList<int> this[int index]
        {
            get
            {
                if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
                return _members[_skip >= 0 && index >= _skip ? index + 1 : index];
            }
        }

        public IEnumerator<IReadOnlyList<int>> GetEnumerator()
        {
            for (int i = 0; i < Count; i++) yield return this[i];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
