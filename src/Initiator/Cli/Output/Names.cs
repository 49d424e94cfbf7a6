using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Cli.Output;

/// <summary>nvme-cli's names for discovery log fields (libnvme <c>nvmf_*_str</c>).</summary>
public static class Names
{
    public static string TransportType(byte value) => value switch
    {
        1 => "rdma",
        2 => "fc",
        3 => "tcp",
        254 => "loop",
        _ => "unrecognized",
    };

    public static string AddressFamily(byte value) => value switch
    {
        1 => "ipv4",
        2 => "ipv6",
        3 => "infiniband",
        4 => "fibre-channel",
        254 => "intra-host",
        _ => "unrecognized",
    };

    public static string SubsystemType(byte value) => value switch
    {
        1 => "referral",
        2 => "nvme subsystem",
        3 => "current discovery subsystem",
        _ => "unrecognized",
    };

    public static string TransportRequirements(byte value) => (value & 3) switch
    {
        0 => "not specified",
        1 => "required",
        2 => "not required",
        _ => "reserved",
    } + ((value & DiscoveryLogEntry.TreqSqFlowControlDisable) != 0 ? ", sq flow control disable supported" : "");

    public static string SecurityType(byte value) => value switch
    {
        0 => "none",
        1 => "tls",
        2 => "tls13",
        _ => "unrecognized",
    };
}
