using System.Security.Cryptography;
using System.Text;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// NVMe/TCP PSK helpers for the TLS interop test (nvme-tcp.md §4.2–4.4): the interchange format, v1 retained-PSK
/// identities in the RFC 8446 form (libnvme ≥ 1.16) and the older "compat" form (libnvme 1.10–1.15, what the
/// Debian 13 guest's nvme-cli 2.13 derives), and the TLS PSK for an identity.
/// </summary>
public static class LinuxHostTlsKeys
{
    /// <summary>NVMeTLSkey-1:01:base64(key || CRC-32(key) little-endian):</summary>
    public static string InterchangeKey(byte[] key)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in key)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        crc ^= 0xFFFFFFFF;
        byte[] all = [.. key, (byte)crc, (byte)(crc >> 8), (byte)(crc >> 16), (byte)(crc >> 24)];
        return "NVMeTLSkey-1:01:" + Convert.ToBase64String(all) + ":";
    }

    /// <summary>"NVMe1R01 host subsys digest" for a 32-byte configured key (HH 01, SHA-256).</summary>
    public static string Identity(byte[] configured, string hostNqn, string subsystemNqn, bool rfcForm) =>
        $"NVMe1R01 {hostNqn} {subsystemNqn} {Digest(configured, hostNqn, subsystemNqn, rfcForm)}";

    /// <summary>The TLS PSK offered with <see cref="Identity"/> (RFC form): HKDF-Expand-Label(PRK, "nvme-tls-psk", "01 digest").</summary>
    public static byte[] TlsPsk(byte[] configured, string hostNqn, string subsystemNqn)
    {
        byte[] retained = Retained(configured, hostNqn, rfcForm: true);
        byte[] prk = HKDF.Extract(HashAlgorithmName.SHA256, retained, new byte[32]);
        string context = "01 " + Digest(configured, hostNqn, subsystemNqn, rfcForm: true);
        return HKDF.Expand(HashAlgorithmName.SHA256, prk, retained.Length, Label(retained.Length, "nvme-tls-psk", context, rfcForm: true));
    }

    private static string Digest(byte[] configured, string hostNqn, string subsystemNqn, bool rfcForm)
    {
        byte[] retained = Retained(configured, hostNqn, rfcForm);
        return Convert.ToBase64String(HMACSHA256.HashData(retained, Encoding.ASCII.GetBytes($"{hostNqn} {subsystemNqn} NVMe-over-Fabrics")));
    }

    private static byte[] Retained(byte[] configured, string hostNqn, bool rfcForm)
    {
        byte[] prk = HKDF.Extract(HashAlgorithmName.SHA256, configured, new byte[32]);
        return HKDF.Expand(HashAlgorithmName.SHA256, prk, configured.Length, Label(configured.Length, "HostNQN", hostNqn, rfcForm));
    }

    /// <summary>RFC 8446 HkdfLabel, or the compat framing: u16 little-endian length, then label and context, no lengths.</summary>
    private static byte[] Label(int length, string label, string context, bool rfcForm)
    {
        byte[] full = Encoding.ASCII.GetBytes("tls13 " + label);
        byte[] ctx = Encoding.ASCII.GetBytes(context);
        return rfcForm
            ? [(byte)(length >> 8), (byte)length, (byte)full.Length, .. full, (byte)ctx.Length, .. ctx]
            : [(byte)length, (byte)(length >> 8), .. full, .. ctx];
    }
}
