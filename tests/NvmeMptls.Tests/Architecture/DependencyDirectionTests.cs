using System.Reflection;

namespace NvmeMptls.Tests.Architecture;

/// <summary>Dependencies point one way: Transport ← Crypto ← Target, Initiator; BouncyCastle stays in Crypto.</summary>
public sealed class DependencyDirectionTests
{
    private static string[] ReferencesOf(string assemblyName) =>
        Assembly.Load(assemblyName).GetReferencedAssemblies().Select(a => a.Name ?? "").ToArray();

    [TestCase("NvmeMptls.Transport", new[] { "NvmeMptls.Crypto", "nvme-mptls-target", "NvmeMptls.Initiator", "BouncyCastle.Cryptography" })]
    [TestCase("NvmeMptls.Crypto", new[] { "nvme-mptls-target", "NvmeMptls.Initiator" })]
    [TestCase("NvmeMptls.Initiator", new[] { "nvme-mptls-target", "BouncyCastle.Cryptography", "Microsoft.Extensions.Hosting", "nvme-mptls" })]
    [TestCase("nvme-mptls-target", new[] { "BouncyCastle.Cryptography", "NvmeMptls.Initiator" })]
    [TestCase("nvme-mptls", new[] { "BouncyCastle.Cryptography", "nvme-mptls-target" })]
    public void Assembly_DoesNotReferenceForbiddenLayers(string assembly, string[] forbidden)
    {
        var refs = ReferencesOf(assembly);
        Assert.That(refs.Intersect(forbidden), Is.Empty, $"{assembly} references {string.Join(", ", refs)}");
    }
}
