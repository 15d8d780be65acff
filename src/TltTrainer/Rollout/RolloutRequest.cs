using TltTrainer.Sampling;
namespace TltTrainer.Rollout;

/// <summary>One sequence to generate.</summary>
/// <param name="Id">Caller's id, copied into the trajectory.</param>
/// <param name="PromptTokens">Prompt token ids (BOS included if the model wants one).</param>
/// <param name="Sampling">How to sample it.</param>
/// <param name="GroupId">Requests with the same group (e.g. the G responses of one GRPO prompt) are siblings; the n-gram drafter reads across them. Negative (the default): no group, no siblings.</param>
public sealed record RolloutRequest(long Id, IReadOnlyList<int> PromptTokens, SamplingOptions Sampling, long GroupId = -1);

/// <summary>Why a sequence ended.</summary>
public enum FinishReason
{
    /// <summary>A stop token was generated (it is the last response token).</summary>
    Stop,

    /// <summary><see cref="SamplingOptions.MaxNewTokens"/> reached.</summary>
    Length,

    /// <summary>The context (cache capacity) is full.</summary>
    ContextFull,
}

/// <summary>A finished sequence. Owns its arrays (copies, not views into engine buffers).</summary>
/// <param name="RequestId">The request's id.</param>
/// <param name="GroupId">The request's group.</param>
/// <param name="PromptTokens">Prompt ids.</param>
/// <param name="ResponseTokens">Generated ids, stop token included.</param>
/// <param name="LogProbs">Per response token, its log-probability under the target's sampling distribution
/// (after temperature/top-k/top-p; temperature-1 softmax for greedy requests).</param>
/// <param name="Finish">Why it ended.</param>
/// <param name="VerifyRounds">Target forwards that produced its tokens (decode steps or verification rounds).</param>
/// <param name="DraftedTokens">Draft tokens proposed for it.</param>
/// <param name="AcceptedTokens">Draft tokens accepted for it.</param>
public sealed record Trajectory(long RequestId, long GroupId, int[] PromptTokens, int[] ResponseTokens, float[] LogProbs,
    FinishReason Finish, int VerifyRounds, int DraftedTokens, int AcceptedTokens);

/// <summary>Hidden states of generated tokens, handed out from forwards the target does anyway.</summary>
public interface IHiddenStateSink
{
    /// <summary>
    /// Called after each target forward with the accepted positions <c>[start, start + n)</c> of a request;
    /// <paramref name="hidden"/> is <c>[n, H]</c> and valid only during the call (copy what you keep);
    /// <paramref name="tokens"/> is the sequence so far (prompt + response, including the token sampled after these positions).
    /// The call happens inside the engine's dispose scope: a copy you keep must be detached from it (<c>DetachFromDisposeScope</c>).
    /// </summary>
    void OnHiddenStates(long requestId, int start, TorchSharp.torch.Tensor hidden, IReadOnlyList<int> tokens);

    /// <summary>Request <paramref name="requestId"/> finished: no more hidden states will come for it.</summary>
    void OnSequenceFinished(long requestId);
}
