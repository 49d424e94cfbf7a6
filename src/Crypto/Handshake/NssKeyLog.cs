using System.Text;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>
/// Appends NSS key log lines (the SSLKEYLOGFILE format Wireshark/tshark read): <c>LABEL client_random_hex secret_hex</c>.
/// </summary>
internal static class NssKeyLog
{
    private static readonly Lock FileLock = new();

    public static void Append(string path, TrafficSecrets secrets)
    {
        if (secrets.ClientRandom is null)
        {
            return;
        }
        string random = Convert.ToHexStringLower(secrets.ClientRandom);
        var text = new StringBuilder();
        AppendLine(text, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", random, secrets.ClientHandshake);
        AppendLine(text, "SERVER_HANDSHAKE_TRAFFIC_SECRET", random, secrets.ServerHandshake);
        AppendLine(text, "CLIENT_TRAFFIC_SECRET_0", random, secrets.ClientApplication);
        AppendLine(text, "SERVER_TRAFFIC_SECRET_0", random, secrets.ServerApplication);
        lock (FileLock)
        {
            File.AppendAllText(path, text.ToString());
        }
    }

    private static void AppendLine(StringBuilder text, string label, string random, byte[]? secret)
    {
        if (secret is not null)
        {
            text.Append(label).Append(' ').Append(random).Append(' ').Append(Convert.ToHexStringLower(secret)).Append('\n');
        }
    }
}
