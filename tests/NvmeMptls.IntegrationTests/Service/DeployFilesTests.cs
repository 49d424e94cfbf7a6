using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>What can be checked of deploy/ without a container engine or a cluster.</summary>
[TestFixture]
[NonParallelizable]
public sealed partial class DeployFilesTests
{
    private static string Deploy => Path.Combine(TargetProcess.RepositoryRoot, "deploy");

    [Test]
    public void PrometheusConfig_PassesPromtool()
    {
        var (code, output) = Run("promtool", "check", "config", Path.Combine(Deploy, "prometheus", "prometheus.yml"));
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("SUCCESS"));
    }

    [Test]
    public void AlertRules_PassPromtool()
    {
        var (code, output) = Run("promtool", "check", "rules", Path.Combine(Deploy, "prometheus", "alerts.yml"));
        Assert.That(code, Is.Zero, output);
    }

    [Test]
    public void SystemdUnit_PassesSystemdAnalyzeVerify()
    {
        RequireTool("systemd-analyze");
        var dir = Directory.CreateTempSubdirectory("nvmemptls-unit-").FullName;
        try
        {
            // verify checks that ExecStart's binary exists: point it at the dotnet actually installed here.
            var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "/usr/bin/dotnet";
            var unit = File.ReadAllText(Path.Combine(Deploy, "systemd", "nvme-mptls-target.service"))
                .Replace("/usr/bin/dotnet", File.Exists(dotnet) ? dotnet : "/bin/true", StringComparison.Ordinal);
            var path = Path.Combine(dir, "nvme-mptls-target.service");
            File.WriteAllText(path, unit);
            var (code, output) = Run("systemd-analyze", "verify", "--man=no", path);
            Assert.That(code, Is.Zero, output);
            Assert.That(output, Does.Not.Contain("Unknown key").And.Not.Contain("Failed to parse"), output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void JsonDocuments_AreWellFormed()
    {
        var files = new[]
        {
            Path.Combine(Deploy, "grafana", "dashboards", "nvme-mptls-target.json"),
            Path.Combine(Deploy, "container", "target.json"),
            Path.Combine(Deploy, "nvme-mptls-target.sample.json"),
        };
        foreach (var f in files)
        {
            Assert.DoesNotThrow(() => JsonDocument.Parse(File.ReadAllText(f)).Dispose(), f);
        }

        using var dashboard = JsonDocument.Parse(File.ReadAllText(files[0]));
        Assert.That(dashboard.RootElement.GetProperty("panels").GetArrayLength(), Is.GreaterThanOrEqualTo(6));
    }

    [Test]
    public void YamlDocuments_AreWellFormed()
    {
        var (probe, _) = Run("python3", "-c", "import yaml");
        if (probe != 0)
        {
            Assert.Ignore("python3 with PyYAML is not available");
        }

        foreach (var f in YamlFiles())
        {
            var (code, output) = Run("python3", "-c", "import sys, yaml; docs = list(yaml.safe_load_all(open(sys.argv[1]))); assert docs and all(docs), 'empty document'", f);
            Assert.That(code, Is.Zero, $"{f}: {output}");
        }

        // The JSON embedded in the ConfigMap is the target's configuration: it must parse too.
        var (c2, json) = Run("python3", "-c", "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['data']['target.json'])", Path.Combine(Deploy, "kubernetes", "configmap.yaml"));
        Assert.That(c2, Is.Zero, json);
        Assert.DoesNotThrow(() => JsonDocument.Parse(json).Dispose());
    }

    [Test]
    public async Task EveryMetricNameInDashboardAlertsAndServiceMonitor_AppearsInARealScrape()
    {
        const string nqn = "nqn.2026-01.io.nvmemptls:deploy-test";
        var dir = Directory.CreateTempSubdirectory("nvmemptls-names-").FullName;
        try
        {
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, InProcessTarget.Config(TargetProcess.FreePort(), TargetProcess.FreePort(), nqn, """{ "Nsid": 1, "Backing": "memory", "Size": "16MiB" }"""));
            await using var target = await InProcessTarget.StartAsync(config);
            MetricsScrape scrape;
            await using (var workload = await ServiceWorkload.StartAsync(target.IoEndPoint, nqn))
            {
                while (workload.Completed < 20)
                {
                    await Task.Delay(10);
                }

                scrape = await MetricsScrape.FetchAsync(target.MetricsUrl);
            }

            var used = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var f in new[]
            {
                Path.Combine(Deploy, "grafana", "dashboards", "nvme-mptls-target.json"),
                Path.Combine(Deploy, "prometheus", "alerts.yml"),
                Path.Combine(Deploy, "kubernetes", "servicemonitor.yaml"),
            })
            {
                foreach (Match m in MetricName().Matches(File.ReadAllText(f)))
                {
                    used.Add(m.Value);
                }
            }

            Assert.That(used, Has.Count.GreaterThan(10));
            var families = new HashSet<string>(StringComparer.Ordinal);
            foreach (Match m in TypeLine().Matches(scrape.Text))
            {
                families.Add(m.Groups[1].Value);
            }

            var missing = used.Where(n => !scrape.Has(n) && !families.Contains(n) && !families.Contains(HistogramFamily(n))).ToList();
            Assert.That(missing, Is.Empty, "metric names used in deploy/ but not exported by the target");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string HistogramFamily(string name) => Regex.Replace(name, "_(bucket|count|sum)$", "");

    private static IEnumerable<string> YamlFiles() =>
        Directory.EnumerateFiles(Deploy, "*.y*ml", SearchOption.AllDirectories).Where(f => f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".yaml", StringComparison.Ordinal));

    private static void RequireTool(string tool)
    {
        if (Run("sh", "-c", $"command -v {tool}").Code != 0)
        {
            Assert.Ignore($"{tool} is not installed");
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout.Result + stderr);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Ignore($"{file} is not installed: {ex.Message}");
            return (-1, "");
        }
    }

    // Metric names: ours, and the process/runtime families prometheus-net exports.
    [GeneratedRegex(@"\b(nvmemptls_[a-z0-9_]+|process_[a-z0-9_]+|dotnet_[a-z0-9_]+)\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^# TYPE (\S+) ", RegexOptions.Multiline)]
    private static partial Regex TypeLine();
}
