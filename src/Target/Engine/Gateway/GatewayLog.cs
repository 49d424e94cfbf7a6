using Microsoft.Extensions.Logging;

namespace NvmeMptls.Target.Gateway;

/// <summary>The gateway group's log messages (events 3400–3449, docs/event-ids.md).</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 3400, Level = LogLevel.Warning, Message = "Gateway {Gateway} ANA group {AnaGroup}: acquired the lease (previous owner {Previous}); ports optimized")]
    public static partial void Acquired(ILogger logger, string gateway, uint anaGroup, string previous);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Error, Message = "Gateway {Gateway} ANA group {AnaGroup}: lease renewal not confirmed within {DeadlineMs} ms; ports inaccessible before the lease can expire")]
    public static partial void RenewalDeadlinePassed(ILogger logger, string gateway, uint anaGroup, long deadlineMs);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Error, Message = "Gateway {Gateway} ANA group {AnaGroup}: the lease is no longer ours ({Detail}); ports go to standby")]
    public static partial void Lost(ILogger logger, string gateway, uint anaGroup, string detail);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Critical, Message = "Gateway {Gateway} ANA group {AnaGroup}: this gateway was fenced (blocklisted) by another; inaccessible until restarted")]
    public static partial void Fenced(ILogger logger, string gateway, uint anaGroup);

    [LoggerMessage(EventId = 3404, Level = LogLevel.Warning, Message = "Gateway {Gateway} ANA group {AnaGroup}: fenced the previous owner {Previous} (blocklisted {Addresses}) in {ElapsedMs} ms")]
    public static partial void FencedPeer(ILogger logger, string gateway, uint anaGroup, string previous, string addresses, long elapsedMs);

    [LoggerMessage(EventId = 3405, Level = LogLevel.Error, Message = "Gateway {Gateway} ANA group {AnaGroup}: fencing {Previous} failed, the group is not taken over: {Detail}")]
    public static partial void FenceFailed(ILogger logger, string gateway, uint anaGroup, string previous, string detail);

    [LoggerMessage(EventId = 3406, Level = LogLevel.Warning, Message = "Gateway {Gateway} ANA group {AnaGroup}: lease call failed: {Detail}")]
    public static partial void CallFailed(ILogger logger, string gateway, uint anaGroup, string detail);

    [LoggerMessage(EventId = 3407, Level = LogLevel.Warning, Message = "Gateway {Gateway} ANA group {AnaGroup}: planned move to {Target}: ports inaccessible, lease released")]
    public static partial void Released(ILogger logger, string gateway, uint anaGroup, string target);

    [LoggerMessage(EventId = 3408, Level = LogLevel.Information, Message = "Gateway {Gateway} ANA group {AnaGroup}: renewal confirmed again; ports optimized")]
    public static partial void Recovered(ILogger logger, string gateway, uint anaGroup);

    [LoggerMessage(EventId = 3409, Level = LogLevel.Information, Message = "Gateway {Gateway} ANA group {AnaGroup}: owner is now {Owner}")]
    public static partial void OwnerSeen(ILogger logger, string gateway, uint anaGroup, string owner);
}
