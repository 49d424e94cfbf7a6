using System.Diagnostics;
using NvmeMptls.Target.Configuration;

namespace NvmeMptls.Tests.Target.Configuration;

/// <summary>
/// Key files (Target:Tls:Keys[]:KeyFile, Target:DhChap:Hosts[]:SecretFile / ControllerSecretFile) must be readable only
/// by the service user and owned by it: otherwise the target refuses to start, naming the key and the file.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KeyFilePermissionTests
{
    private const string TlsKey = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    private const string HostSecret = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix file modes and owners only");
        }

        _directory = Directory.CreateTempSubdirectory("nvmemptls-keyfile-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        if (_directory.Length > 0)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [TestCase(UnixFileMode.GroupRead, "640")]
    [TestCase(UnixFileMode.OtherRead, "604")]
    [TestCase(UnixFileMode.GroupWrite, "620")]
    public void TlsKeyFile_AccessibleToGroupOrOthers_IsRefusedNamingKeyAndFile(UnixFileMode extra, string mode)
    {
        var file = Write("tls.key", TlsKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);
        var errors = ConfigurationTestKit.Errors(("Target:Tls:Keys:0:KeyFile", file));
        Assert.That(errors, Has.One.EqualTo($"Target:Tls:Keys:0:KeyFile: '{file}' is accessible to group or others (mode {mode}); make it readable only by the service user (chmod 600)"));
        Assert.That(string.Join("\n", errors), Does.Not.Contain("VRLbtnN9"), "the key is never echoed");
    }

    [Test]
    public void TlsKeyFile_Mode600OwnedByTheServiceUser_IsAccepted()
    {
        var file = Write("tls.key", TlsKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.That(ConfigurationTestKit.Errors(("Target:Tls:Keys:0:KeyFile", file)), Is.Empty);
        Assert.That(KeyFilePermissions.OwnerOf(file), Is.Not.Null, "statx reads the owner");
    }

    [TestCase("Target:Tls:Keys:0:KeyFile", TlsKey)]
    [TestCase("Target:DhChap:Hosts:0:SecretFile", HostSecret)]
    public void KeyFile_OwnedByAnotherUser_IsRefusedNamingKeyAndFile(string key, string contents)
    {
        var file = Write("other.key", contents, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        ChownOrIgnore(file, 65534);
        var errors = ConfigurationTestKit.Errors((key, file));
        Assert.That(errors, Has.One.StartsWith($"{key}: '{file}' is owned by uid 65534, not by the service user (uid "));
    }

    [Test]
    public void DhChapControllerSecretFile_AccessibleToOthers_IsRefused()
    {
        var host = Write("host.secret", HostSecret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var controller = Write("ctrl.secret", "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:", UnixFileMode.UserRead | UnixFileMode.OtherRead);
        var errors = ConfigurationTestKit.Errors(("Target:DhChap:Hosts:0:SecretFile", host), ("Target:DhChap:Hosts:0:ControllerSecretFile", controller));
        Assert.That(errors, Has.One.StartsWith($"Target:DhChap:Hosts:0:ControllerSecretFile: '{controller}' is accessible to group or others (mode 404)"));
    }

    private string Write(string name, string contents, UnixFileMode mode)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, contents + "\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private static void ChownOrIgnore(string file, int uid)
    {
        if (Environment.UserName != "root")
        {
            Assert.Ignore("changing a file's owner needs root");
        }

        using var chown = Process.Start(new ProcessStartInfo("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), file]) { RedirectStandardError = true })!;
        chown.WaitForExit();
        Assert.That(chown.ExitCode, Is.Zero, chown.StandardError.ReadToEnd());
    }
}
