using System.Reflection;

namespace NvmeMptls.Tests.Architecture;

/// <summary>
/// Dependencies point one way: Transport ← Crypto ← Target engine ← target service; Transport ← Crypto ← client ←
/// NBD export, load generator ← CLI. Each assembly of ours may reference only the ones of ours listed for it, and
/// none of the third-party assemblies forbidden for it (BouncyCastle stays in Crypto; the engine and the client
/// library have no hosting, configuration or metrics-exporter dependency).
/// </summary>
public sealed class DependencyDirectionTests
{
    private const string Transport = "NvmeMptls.Transport";
    private const string Crypto = "NvmeMptls.Crypto";
    private const string Engine = "NvmeMptls.Target";
    private const string Service = "nvme-mptls-target";
    private const string Client = "NvmeMptls.Initiator";
    private const string Nbd = "NvmeMptls.Initiator.Nbd";
    private const string LoadGen = "NvmeMptls.Initiator.LoadGen";
    private const string Cli = "nvme-mptls";

    private static readonly string[] s_hostingAndExporters =
    [
        "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Hosting.Abstractions", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.Configuration.Abstractions", "Microsoft.Extensions.DependencyInjection", "Prometheus.NetStandard",
    ];

    /// <summary>Ours: which of our assemblies each may reference. Every assembly of ours must be in this table.</summary>
    private static readonly Dictionary<string, string[]> s_allowed = new(StringComparer.Ordinal)
    {
        [Transport] = [],
        [Crypto] = [Transport],
        [Engine] = [Transport, Crypto],
        [Service] = [Transport, Crypto, Engine],
        [Client] = [Transport, Crypto],
        [Nbd] = [Transport, Crypto, Client],
        [LoadGen] = [Transport, Crypto, Client],
        [Cli] = [Transport, Crypto, Client, Nbd, LoadGen],
    };

    private static readonly Dictionary<string, string[]> s_forbiddenThirdParty = new(StringComparer.Ordinal)
    {
        [Transport] = ["BouncyCastle.Cryptography", .. s_hostingAndExporters],
        [Crypto] = s_hostingAndExporters,
        [Engine] = ["BouncyCastle.Cryptography", .. s_hostingAndExporters],
        [Service] = ["BouncyCastle.Cryptography"],
        [Client] = ["BouncyCastle.Cryptography", "System.Console", .. s_hostingAndExporters],
        [Nbd] = ["BouncyCastle.Cryptography", .. s_hostingAndExporters],
        [LoadGen] = ["BouncyCastle.Cryptography", .. s_hostingAndExporters],
        [Cli] = ["BouncyCastle.Cryptography", .. s_hostingAndExporters],
    };

    private static bool IsOurs(string name) => name.StartsWith("NvmeMptls.", StringComparison.Ordinal) || name.StartsWith("nvme-mptls", StringComparison.Ordinal);

    private static string[] ReferencesOf(string assemblyName) =>
        Assembly.Load(assemblyName).GetReferencedAssemblies().Select(a => a.Name ?? "").ToArray();

    public static IEnumerable<string> Assemblies => s_allowed.Keys;

    [TestCaseSource(nameof(Assemblies))]
    public void Assembly_ReferencesOnlyTheLayersBelowIt(string assembly)
    {
        var ours = ReferencesOf(assembly).Where(IsOurs).ToArray();
        Assert.That(ours.Except(s_allowed[assembly]), Is.Empty, $"{assembly} references {string.Join(", ", ours)}");
    }

    [TestCaseSource(nameof(Assemblies))]
    public void Assembly_DoesNotReferenceForbiddenPackages(string assembly)
    {
        var refs = ReferencesOf(assembly);
        Assert.That(refs.Intersect(s_forbiddenThirdParty[assembly]), Is.Empty, $"{assembly} references {string.Join(", ", refs)}");
    }

    /// <summary>A new source project must be placed in the table above, so its dependencies are checked too.</summary>
    [Test]
    public void EverySourceAssembly_IsInTheTable()
    {
        var dir = AppContext.BaseDirectory;
        var tests = new[] { "NvmeMptls.Tests", "NvmeMptls.TestKit", "NvmeMptls.IntegrationTests", "NvmeMptls.KtlsProbe", "NvmeMptls.Bench", "NvmeMptls.Fuzz", "NvmeMptls.Fuzz.Targets" };
        var found = Directory.GetFiles(dir, "*.dll")
            .Select(Path.GetFileNameWithoutExtension)
            .OfType<string>()
            .Where(n => IsOurs(n) && !tests.Contains(n))
            .ToArray();
        Assert.That(found, Is.SupersetOf(s_allowed.Keys), "the test's output folder lacks an assembly of ours");
        Assert.That(found.Except(s_allowed.Keys), Is.Empty, "an assembly of ours is not in the dependency table");
    }
}
