namespace NvmeMptls.Target.Gateway;

/// <summary>What this gateway is for one ANA group, as its lease says.</summary>
public enum GatewayRole
{
    /// <summary>Another gateway owns the group (or no one yet): the ports show the configured standby state.</summary>
    Standby,

    /// <summary>This gateway holds the lease: its ports serve the group optimized.</summary>
    Owner,

    /// <summary>
    /// The lease was ours but its renewal was not confirmed in time: the ports are inaccessible before the lease can
    /// expire; a later confirmed renewal makes us owner again, a lost lock makes us standby.
    /// </summary>
    Uncertain,

    /// <summary>Another gateway fenced (blocklisted) us: inaccessible until this gateway restarts.</summary>
    Fenced,
}

/// <summary>The names the status output and metrics use.</summary>
public static class GatewayRoles
{
    public static string Name(GatewayRole role) => role switch
    {
        GatewayRole.Owner => "owner",
        GatewayRole.Uncertain => "uncertain",
        GatewayRole.Fenced => "fenced",
        _ => "standby",
    };
}
