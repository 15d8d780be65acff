using System.Text.Json;

namespace TltTrainer.Tests.Tokenization;

/// <summary>
/// A deliberately naive BPE written from the algorithm's definition, independent of Microsoft.ML.Tokenizers:
/// start from single characters, repeatedly merge the adjacent pair with the best (lowest) merge rank,
/// leftmost first on ties, until no adjacent pair is a merge. Quadratic; for short test strings only.
/// </summary>
internal sealed class ReferenceBpe
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<(string, string), int> _ranks;

    private ReferenceBpe(Dictionary<string, int> vocab, Dictionary<(string, string), int> ranks)
    {
        _vocab = vocab;
        _ranks = ranks;
    }

    /// <summary>Reads model.vocab and model.merges ("a b" strings or [a, b] pairs) of a tokenizer.json.</summary>
    public static ReferenceBpe FromTokenizerJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var model = doc.RootElement.GetProperty("model");
        var vocab = model.GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var ranks = new Dictionary<(string, string), int>();
        int rank = 0;
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            (string, string) pair;
            if (merge.ValueKind == JsonValueKind.String)
            {
                string[] parts = merge.GetString()!.Split(' ');
                pair = (parts[0], parts[1]);
            }
            else
            {
                pair = (merge[0].GetString()!, merge[1].GetString()!);
            }

            ranks.TryAdd(pair, rank++);
        }

        return new ReferenceBpe(vocab, ranks);
    }

    /// <summary>Token strings of one pre-normalized word (every character must be in the vocabulary).</summary>
    public List<string> Tokenize(string word)
    {
        var symbols = word.Select(c => c.ToString()).ToList();
        while (true)
        {
            int best = -1;
            int bestRank = int.MaxValue;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                if (_ranks.TryGetValue((symbols[i], symbols[i + 1]), out int r) && r < bestRank)
                {
                    best = i;
                    bestRank = r;
                }
            }

            if (best < 0)
            {
                return symbols;
            }

            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }
    }

    public List<int> Encode(string word) => Tokenize(word).Select(t => _vocab[t]).ToList();
}
