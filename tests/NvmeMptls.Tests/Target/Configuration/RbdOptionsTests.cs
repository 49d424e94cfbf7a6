using NvmeMptls.Target.Configuration;
using static NvmeMptls.Tests.Target.Configuration.ConfigurationTestKit;

namespace NvmeMptls.Tests.Target.Configuration;

/// <summary>The rbd backing's keys, their validation messages and the --rbd-ns quick start.</summary>
public sealed class RbdOptionsTests
{
    private const string Ns0 = "Target:Subsystems:0:Namespaces:0";

    private static IReadOnlyList<string> RbdErrors(params (string, string?)[] values) =>
        Errors([("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"), ($"{Ns0}:Backing", "rbd"), .. values]);

    [Test]
    public void Configuration_RbdNamespace_ReadsEveryKey()
    {
        string conf = Path.GetTempFileName();
        try
        {
            TargetOptions options = Load(
                ("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"), ($"{Ns0}:Backing", "rbd"),
                ($"{Ns0}:Rbd:Pool", "nvme"), ($"{Ns0}:Rbd:Image", "vol1"), ($"{Ns0}:Rbd:RadosNamespace", "tenant1"),
                ($"{Ns0}:Rbd:CephConf", conf), ($"{Ns0}:Rbd:CephId", "nvmeof-gw1"), ($"{Ns0}:Rbd:Keyring", conf));
            NamespaceOptions ns = options.Subsystems[0].Namespaces[0];
            Assert.That(ns.Backing, Is.EqualTo(NamespaceBacking.Rbd));
            Assert.That(ns.Rbd, Is.EqualTo(new RbdOptions
            {
                Pool = "nvme", Image = "vol1", RadosNamespace = "tenant1", CephConf = conf, CephId = "nvmeof-gw1", Keyring = conf,
            }));
        }
        finally
        {
            File.Delete(conf);
        }
    }

    [Test]
    public void Validation_RbdWithoutSection_NamesTheKeysNeeded()
    {
        Assert.That(RbdErrors(), Does.Contain($"{Ns0}:Rbd: is required for rbd backing (Pool and Image, optionally RadosNamespace, CephConf, CephId, Keyring)"));
    }

    [Test]
    public void Validation_RbdMissingPoolAndImage_NamesEachKey()
    {
        IReadOnlyList<string> errors = RbdErrors(($"{Ns0}:Rbd:CephId", "admin"));
        Assert.That(errors, Does.Contain($"{Ns0}:Rbd:Pool: is required for rbd backing (a RADOS pool name)"));
        Assert.That(errors, Does.Contain($"{Ns0}:Rbd:Image: is required for rbd backing (an RBD image name)"));
    }

    [TestCase("Pool", "a/b", "a RADOS pool name")]
    [TestCase("Image", "img@snap", "an RBD image name")]
    [TestCase("RadosNamespace", "x y", "a RADOS namespace name")]
    public void Validation_RbdNameWithSeparator_IsRefused(string key, string value, string what)
    {
        IReadOnlyList<string> errors = RbdErrors(($"{Ns0}:Rbd:Pool", "rbd"), ($"{Ns0}:Rbd:Image", "img"), ($"{Ns0}:Rbd:{key}", value));
        Assert.That(errors, Does.Contain($"{Ns0}:Rbd:{key}: must be {what} without '/', '@' or whitespace (was '{value}')"));
    }

    [Test]
    public void Validation_RbdClientIdWithPrefixAndMissingFiles_AreReported()
    {
        IReadOnlyList<string> errors = RbdErrors(($"{Ns0}:Rbd:Pool", "rbd"), ($"{Ns0}:Rbd:Image", "img"), ($"{Ns0}:Rbd:CephId", "client.admin"),
            ($"{Ns0}:Rbd:CephConf", "/nonexistent/ceph.conf"), ($"{Ns0}:Rbd:Keyring", "/nonexistent/keyring"));
        Assert.That(errors, Has.One.StartsWith($"{Ns0}:Rbd:CephId: must be a client id without 'client.'"));
        Assert.That(errors, Does.Contain($"{Ns0}:Rbd:CephConf: must be the path of a ceph.conf file that exists (was '/nonexistent/ceph.conf')"));
        Assert.That(errors, Does.Contain($"{Ns0}:Rbd:Keyring: must be the path of a keyring file that exists (was '/nonexistent/keyring')"));
    }

    [Test]
    public void Validation_RbdSectionOnFileNamespace_IsReported()
    {
        IReadOnlyList<string> errors = Errors(("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"), ($"{Ns0}:Backing", "file"),
            ($"{Ns0}:Path", "/tmp/x.img"), ($"{Ns0}:Rbd:Pool", "rbd"));
        Assert.That(errors, Does.Contain($"{Ns0}:Rbd: is only used with rbd backing (Backing is file)"));
    }

    [Test]
    public void CommandLine_RbdNamespaces_TakeCephConfAndIdWhereverTheyStand()
    {
        string conf = Path.GetTempFileName();
        try
        {
            TargetCommandLineResult result = TargetCommandLine.Parse(
                ["--rbd-ns", "rbd/img", "--ceph-id", "gw1", "--rbd-ns", "nvme/tenant1/vol", "--ceph-conf", conf],
                environment: [], appSettingsDirectory: Path.GetTempPath());
            Assert.That(result.Errors, Is.Empty);
            var namespaces = result.Options!.Subsystems[0].Namespaces;
            Assert.That(namespaces.Select(n => n.Nsid), Is.EqualTo(new uint[] { 1, 2 }));
            Assert.That(namespaces[0].Rbd, Is.EqualTo(new RbdOptions { Pool = "rbd", Image = "img", CephConf = conf, CephId = "gw1" }));
            Assert.That(namespaces[1].Rbd, Is.EqualTo(new RbdOptions { Pool = "nvme", RadosNamespace = "tenant1", Image = "vol", CephConf = conf, CephId = "gw1" }));
            Assert.That(namespaces[1].SizeBytes, Is.Null);
        }
        finally
        {
            File.Delete(conf);
        }
    }

    [TestCase("img")]
    [TestCase("rbd/")]
    [TestCase("a/b/c/d")]
    public void CommandLine_RbdNamespaceWithoutPoolAndImage_IsRefused(string spec)
    {
        TargetCommandLineResult result = TargetCommandLine.Parse(["--rbd-ns", spec], environment: [], appSettingsDirectory: Path.GetTempPath());
        Assert.That(result.Errors, Does.Contain($"--rbd-ns: expected POOL/IMAGE or POOL/NAMESPACE/IMAGE (was '{spec}')"));
    }
}
