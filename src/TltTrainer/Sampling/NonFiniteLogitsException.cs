namespace TltTrainer.Sampling;

/// <summary>The model produced a non-finite logit: its weights have diverged (or its input was corrupt).</summary>
public sealed class NonFiniteLogitsException : InvalidOperationException
{
    /// <summary>Creates the exception for token <paramref name="token"/>'s logit <paramref name="value"/>.</summary>
    public NonFiniteLogitsException(int token, float value)
        : base($"the model produced a non-finite logit ({value}) for token {token}; its weights may have diverged.")
    {
        Token = token;
        Value = value;
    }

    /// <summary>The token whose logit was not finite.</summary>
    public int Token { get; }

    /// <summary>The logit.</summary>
    public float Value { get; }
}
