using TltTrainer.Tasks;

namespace TltTrainer.Tests.Tasks;

public sealed class TaskEvaluatorTests
{
    [Theory]
    [InlineData(2, "terms 2-6")]
    [InlineData(6, "terms 2-6")]
    [InlineData(7, "terms 7-12")]
    [InlineData(64, "terms 25-64")]
    public void BucketName_DefaultBounds(int terms, string expected) => Assert.Equal(expected, TaskEvaluator.BucketName(terms));

    [Fact]
    public void BucketName_BeyondTheLastBound_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskEvaluator.BucketName(9, new[] { 4, 8 }));

    [Fact]
    public void AsEvaluationExamples_KeepsPromptAnswerAndNamesTheBucket()
    {
        var examples = new[] { ChainArithmeticTask.FromTerms(new[] { 3, 8, 5 }), ChainArithmeticTask.FromTerms(Enumerable.Repeat(1, 9).ToArray()) };
        var held = TaskEvaluator.AsEvaluationExamples(examples);
        Assert.Equal(examples[0].Prompt, held[0].Prompt);
        Assert.Equal("16", held[0].Answer);
        Assert.Equal(new[] { "terms 2-6", "terms 7-12" }, held.Select(e => e.Bucket));
    }
}
