using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Initiator;

/// <summary>Whether a queue's socket uses Multipath TCP (<see cref="NvmeControllerOptions.Multipath"/>).</summary>
public enum NvmeMultipathPolicy
{
    /// <summary>Ask for MPTCP; fall back to plain TCP (and say so) when the peer or this host lacks it.</summary>
    Preferred,

    /// <summary>MPTCP or no connection: a fallback to TCP fails the connect.</summary>
    Required,

    /// <summary>Plain TCP.</summary>
    Disabled,
}

/// <summary>Maps the client's policy onto the socket layer's.</summary>
internal static class NvmeMultipathPolicyExtensions
{
    public static MultipathPolicy ToTransport(this NvmeMultipathPolicy policy) => policy switch
    {
        NvmeMultipathPolicy.Required => MultipathPolicy.Required,
        NvmeMultipathPolicy.Disabled => MultipathPolicy.Disabled,
        _ => MultipathPolicy.Preferred,
    };
}
