using NvmeMptls.Cli.Commands;
using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Tests.Initiator;

/// <summary>The CLI's answer to a refused TLS handshake: one retry with a version 0 identity, or an error that says what to try.</summary>
public sealed class TlsFallbackTests
{
    private static readonly NvmeControllerOptions Tls = NvmeControllerOptions.Default with
    {
        TargetAddress = "127.0.0.1",
        TargetPort = 4420,
        SubsystemNqn = "nqn.2024-01.io.example:disk",
        Tls = true,
        TlsKey = "NVMeTLSkey-1:01:unused:",
    };

    private static TlsHandshakeException InternalError() =>
        new(TlsHandshakeFailure.PeerAlert, "peer sent internal_error", TlsAlertDescription.InternalError);

    private static (VerbContext Context, StringWriter Error, CommandLine Line) Context(params string[] args)
    {
        var error = new StringWriter();
        var line = CommandLine.Parse(args, FabricsOptions.Common());
        return (new VerbContext("id-ctrl", line, TextWriter.Null, error, Stream.Null, Stream.Null), error, line);
    }

    [Test]
    public async Task RefusedV1_DefaultVersion_RetriesOnceWithV0AndSaysSo()
    {
        var (context, error, line) = Context();
        var offered = new List<int>();
        var result = await TlsFallback.RunAsync(context, line, Tls, o =>
        {
            offered.Add(o.TlsIdentityVersion);
            return o.TlsIdentityVersion == 1 ? Task.FromException<string>(InternalError()) : Task.FromResult("connected");
        });

        Assert.That(result, Is.EqualTo("connected"));
        Assert.That(offered, Is.EqualTo(new[] { 1, 0 }));
        Assert.That(error.ToString(), Does.Contain("refused a version 1 PSK identity").And.Contain("InternalError").And.Contain("retrying once with a version 0 identity"));
    }

    [Test]
    public void RefusedV1_ExplicitVersion_NamesVersionAndOption()
    {
        var (context, error, line) = Context("--tls-identity-version", "1");
        var calls = 0;
        var ex = Assert.ThrowsAsync<IOException>(() => TlsFallback.RunAsync<string>(context, line, Tls, _ =>
        {
            calls++;
            throw InternalError();
        }));

        Assert.That(calls, Is.EqualTo(1));
        Assert.That(ex!.Message, Does.Contain("version 1 PSK identity").And.Contain("--tls-identity-version 0"));
        Assert.That(error.ToString(), Is.Empty);
    }

    [Test]
    public void RefusedDiscovery_SaysPskMustBeOnDiscoverySubsystem()
    {
        var (context, _, line) = Context("--tls-identity-version", "0");
        var discovery = Tls with { SubsystemNqn = WellKnownNqns.Discovery, TlsIdentityVersion = 0 };
        var ex = Assert.ThrowsAsync<IOException>(() => TlsFallback.RunAsync<string>(context, line, discovery, _ => throw InternalError()));

        Assert.That(ex!.Message, Does.Contain("discovery subsystem").And.Contain(WellKnownNqns.Discovery).And.Contain("version 0"));
    }

    [Test]
    public void PskMismatch_IsNotRetried()
    {
        var (context, _, line) = Context();
        var calls = 0;
        Assert.ThrowsAsync<TlsHandshakeException>(() => TlsFallback.RunAsync<string>(context, line, Tls, _ =>
        {
            calls++;
            throw new TlsHandshakeException(TlsHandshakeFailure.PskMismatch, "decrypt_error");
        }));
        Assert.That(calls, Is.EqualTo(1));
    }
}
