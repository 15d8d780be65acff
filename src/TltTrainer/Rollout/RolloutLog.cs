using Microsoft.Extensions.Logging;

namespace TltTrainer.Rollout;

/// <summary>Log messages of the rollout engine.</summary>
internal static partial class RolloutLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Drafter '{Drafter}' failed in {Call}; continuing this rollout with plain decoding")]
    public static partial void DrafterFailed(ILogger logger, string drafter, string call, Exception exception);
}
