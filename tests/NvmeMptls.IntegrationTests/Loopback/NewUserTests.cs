using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using NvmeMptls.Cli;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Loopback;

/// <summary>
/// What a new user does first: start the target with no flags at all (127.0.0.1:4420, discovery 8009, 1 GiB memory
/// namespace), then discover, identify and move 64 MiB with the CLI, copying the NQN from discover's output.
/// </summary>
[NonParallelizable]
public sealed class NewUserTests
{
    [Test]
    public async Task DefaultTarget_DiscoverIdCtrlWriteRead64MiB_ThroughTheCli()
    {
        foreach (var port in new[] { 4420, 8009, 9464 })
        {
            if (!PortFree(port))
            {
                Assert.Ignore($"127.0.0.1:{port} is in use, so the target's built-in default cannot listen here");
            }
        }

        var dir = Directory.CreateTempSubdirectory("newuser-");
        var transcript = new StringBuilder();
        try
        {
            await using var target = TargetProcess.Start([]);
            await target.WaitReadyAsync(TimeSpan.FromSeconds(60));
            transcript.AppendLine("$ dotnet nvme-mptls-target.dll").AppendLine(target.StandardOutput.Trim());

            var discover = await Cli(transcript, "discover", "-a", "127.0.0.1", "-s", "8009");
            Assert.That(discover.Code, Is.Zero, discover.Err);
            var nqn = discover.Out.Split('\n').Select(l => l.Trim())
                .Where(l => l.StartsWith("subnqn:", StringComparison.Ordinal))
                .Select(l => l["subnqn:".Length..].Trim())
                .FirstOrDefault(n => !n.Contains("discovery", StringComparison.Ordinal));
            Assert.That(nqn, Is.EqualTo("nqn.2026-01.io.nvmemptls:default"), discover.Out);
            Assert.That(discover.Out, Does.Contain("trsvcid: 4420").Or.Contain("trsvcid:  4420").Or.Match(@"trsvcid:\s+4420"));

            var idCtrl = await Cli(transcript, "id-ctrl", "-a", "127.0.0.1", "-n", nqn!);
            Assert.That(idCtrl.Code, Is.Zero, idCtrl.Err);
            Assert.That(idCtrl.Out, Does.Match(@"subnqn\s*:\s*nqn\.2026-01\.io\.nvmemptls:default"));

            var input = Path.Combine(dir.FullName, "in.bin");
            var output = Path.Combine(dir.FullName, "out.bin");
            var data = new byte[64 << 20];
            new Random(64).NextBytes(data);
            await File.WriteAllBytesAsync(input, data);
            var write = await Cli(transcript, "write", "-a", "127.0.0.1", "-n", nqn!, "--start-block", "0", "--block-count", "131071", "--data", input);
            Assert.That(write.Code, Is.Zero, write.Err);
            var read = await Cli(transcript, "read", "-a", "127.0.0.1", "-n", nqn!, "--start-block", "0", "--block-count", "131071", "--data", output);
            Assert.That(read.Code, Is.Zero, read.Err);
            var back = await File.ReadAllBytesAsync(output);
            transcript.AppendLine($"$ cmp in.bin out.bin   # sha256 {Convert.ToHexString(SHA256.HashData(back))[..16]}… vs {Convert.ToHexString(SHA256.HashData(data))[..16]}…");
            Assert.That(back.Length, Is.EqualTo(data.Length));
            Assert.That(back.AsSpan().SequenceEqual(data), Is.True, "64 MiB read back differs from what was written");
        }
        finally
        {
            TestContext.Out.WriteLine(transcript.ToString());
            dir.Delete(recursive: true);
        }
    }

    private static async Task<(int Code, string Out, string Err)> Cli(StringBuilder transcript, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var code = await Program.RunAsync(args, output, error, Stream.Null, Stream.Null, cts.Token);
        transcript.AppendLine("$ nvme-mptls " + string.Join(' ', args)).Append(output).Append(error).AppendLine($"(exit {code})");
        return (code, output.ToString(), error.ToString());
    }

    private static bool PortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
