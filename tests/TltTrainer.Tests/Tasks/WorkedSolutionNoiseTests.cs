using System.Text.RegularExpressions;
using TltTrainer.Tasks;

namespace TltTrainer.Tests.Tasks;

/// <summary>What the embedded target is taught: guesses, slips and retries, each at its rate and each well-formed.</summary>
public sealed class WorkedSolutionNoiseTests
{
    private static readonly Regex Step = new(@"^(\d+)\+(\d)=(\d+)$");

    private static int[] Terms(SplitMix64 random) => Enumerable.Range(0, 2 + random.NextInt(9)).Select(_ => random.NextInt(10)).ToArray();

    [Fact]
    public void None_WritesTheReferenceSolution()
    {
        var random = new SplitMix64(5);
        for (int i = 0; i < 200; i++)
        {
            var terms = Terms(random);
            Assert.Equal(ChainArithmeticTask.FromTerms(terms).Response, WorkedSolutionNoise.None.Write(terms, random));
        }
    }

    [Fact]
    public void Noisy_Responses_AreWellFormed_AndEachKindComesAtItsRate()
    {
        var noise = new WorkedSolutionNoise(SlipProbability: 0.1, RetryProbability: 0.3, MaxRetries: 2, GuessProbability: 0.4).Validate();
        var random = new SplitMix64(7);
        int responses = 4000, guesses = 0, passes = 0, retries = 0, steps = 0, slips = 0, rightGuesses = 0;
        var passCounts = new int[4];
        for (int i = 0; i < responses; i++)
        {
            var terms = Terms(random);
            string response = noise.Write(terms, random);
            var reference = ChainArithmeticTask.FromTerms(terms);
            Assert.NotNull(ChainArithmeticTask.ExtractAnswer(response));
            if (!response.Contains(';'))
            {
                guesses++;
                int guess = int.Parse(ChainArithmeticTask.ExtractAnswer(response)!);
                Assert.InRange(guess - terms.Sum(), -WorkedSolutionNoise.GuessSpread, WorkedSolutionNoise.GuessSpread);
                if (guess == terms.Sum()) rightGuesses++;
                continue;
            }
            var worked = response.Split(WorkedSolutionNoise.RetryMarker);
            passCounts[worked.Length]++;
            retries += worked.Length - 1;
            foreach (string pass in worked)
            {
                passes++;
                var parts = pass.Split(';');
                Assert.Equal(terms.Length, parts.Length);                       // one step per term after the first, then the answer
                int sum = terms[0];
                bool slipped = false;
                for (int t = 1; t < terms.Length; t++)
                {
                    var m = Step.Match(parts[t - 1]);
                    Assert.True(m.Success, parts[t - 1]);
                    Assert.Equal(sum, int.Parse(m.Groups[1].Value));            // a chain carries on from what it wrote
                    Assert.Equal(terms[t], int.Parse(m.Groups[2].Value));
                    int written = int.Parse(m.Groups[3].Value);
                    Assert.InRange(written - (sum + terms[t]), -1, 1);          // a slip is one off, never more
                    steps++;
                    if (written != sum + terms[t]) { slips++; slipped = true; }
                    sum = written;
                }
                Assert.Equal($"A:{sum}", parts[^1]);
                if (!slipped && pass == worked[^1]) Assert.True(ChainArithmeticTask.IsCorrect(response, reference.Answer));
            }
        }
        Assert.InRange((double)guesses / responses, 0.37, 0.43);
        Assert.InRange((double)rightGuesses / guesses, 0.15, 0.25);                // one offset in five is the sum
        Assert.InRange((double)slips / steps, 0.09, 0.11);
        Assert.Equal(0, passCounts[0]);
        Assert.InRange((double)retries / passes, 0.2, 0.3);
        Assert.True(passCounts[3] > 0 && passCounts[3] < passCounts[2] && passCounts[2] < passCounts[1]);   // geometric, capped at 2 retries
    }

    [Fact]
    public void Retries_ThatWouldNotFit_AreNotTaken()
    {
        var noise = new WorkedSolutionNoise(0, RetryProbability: 0.99, MaxRetries: 8);
        var terms = new[] { 3, 8, 5 };                       // one pass: "3+8=11;11+5=16;A:16", 19 characters
        var random = new SplitMix64(1);
        Assert.Equal("3+8=11;11+5=16;A:16?3+8=11;11+5=16;A:16", noise.Write(terms, random, maxLength: 50));
        Assert.Equal("3+8=11;11+5=16;A:16", noise.Write(terms, random, maxLength: 19));
    }

    [Theory]
    [InlineData(0.5, 0, 0, 0, "SlipProbability")]
    [InlineData(-0.1, 0, 0, 0, "SlipProbability")]
    [InlineData(0, 1, 0, 0, "RetryProbability")]
    [InlineData(0, 0, 9, 0, "MaxRetries")]
    [InlineData(0, 0, 0, 0.5, "GuessProbability")]
    [InlineData(0, 0, 0, double.NaN, "GuessProbability")]
    public void Validate_NamesTheBadField(double slip, double retry, int maxRetries, double guess, string field)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new WorkedSolutionNoise(slip, retry, maxRetries, guess).Validate());
        Assert.Equal(field, e.ParamName);
    }
}
