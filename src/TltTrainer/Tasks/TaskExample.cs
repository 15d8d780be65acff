namespace TltTrainer.Tasks;

/// <summary>One example of a verifiable task.</summary>
/// <param name="Prompt">The text the model is conditioned on, e.g. <c>3+8+5=</c>.</param>
/// <param name="Response">A correct worked response, e.g. <c>3+8=11;11+5=16;A:16</c> (EOS not included).</param>
/// <param name="Answer">The final answer, e.g. <c>16</c>.</param>
/// <param name="Terms">Number of terms in the chain (a difficulty and length bucket).</param>
public sealed record TaskExample(string Prompt, string Response, string Answer, int Terms);
