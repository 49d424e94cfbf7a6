using NvmeMptls.Crypto.Psk;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// The s_client/s_server arguments that give OpenSSL one NVMe TLS PSK: "-psk" for TLS_AES_128_GCM_SHA256 (the suite
/// OpenSSL's apps bind "-psk" to), a "-psk_session" file for TLS_AES_256_GCM_SHA384. Disposing deletes the file.
/// </summary>
public sealed class OpenSslPskArgs : IDisposable
{
    private readonly string? _sessionFile;

    private OpenSslPskArgs(string[] args, string? sessionFile)
    {
        Args = args;
        _sessionFile = sessionFile;
    }

    public string[] Args { get; }

    public static OpenSslPskArgs Create(string openssl, DerivedTlsPsk psk, ushort cipherSuite)
    {
        string identity = psk.Identity.ToString();
        if (cipherSuite == 0x1301)
        {
            return new OpenSslPskArgs(["-psk", Convert.ToHexStringLower(psk.TlsPsk), "-psk_identity", identity,
                "-ciphersuites", "TLS_AES_128_GCM_SHA256"], null);
        }
        if (cipherSuite != 0x1302)
        {
            throw new ArgumentOutOfRangeException(nameof(cipherSuite), cipherSuite, "only 0x1301 and 0x1302 are NVMe/TCP suites");
        }
        string file = Path.GetTempFileName();
        File.WriteAllText(file, OpenSslPskSessionFile.ToPem(psk.TlsPsk, cipherSuite, identity));
        var result = ToolRunner.RunAsync(openssl, ["sess_id", "-in", file, "-noout", "-text"], TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        string text = result.Stdout + result.Stderr;
        if (!text.Contains("TLS_AES_256_GCM_SHA384", StringComparison.Ordinal)
            || !text.Contains(Convert.ToHexString(psk.TlsPsk), StringComparison.Ordinal))
        {
            File.Delete(file);
            throw new InvalidOperationException($"openssl sess_id did not read back the PSK session:\n{text}");
        }
        return new OpenSslPskArgs(["-psk_session", file, "-psk_identity", identity, "-ciphersuites", "TLS_AES_256_GCM_SHA384"], file);
    }

    public void Dispose()
    {
        if (_sessionFile is not null)
        {
            File.Delete(_sessionFile);
        }
    }
}
