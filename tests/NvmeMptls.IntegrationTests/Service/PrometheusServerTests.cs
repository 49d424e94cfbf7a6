using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>
/// A real Prometheus server (Debian package <c>prometheus</c>) scrapes the running target with the scrape
/// configuration from deploy/prometheus, and its query API answers rate() and histogram_quantile() for a workload.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PrometheusServerTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:prometheus-test";
    private const string PrometheusBinary = "/usr/bin/prometheus";

    [Test]
    public async Task RealPrometheus_ScrapingTheTarget_AnswersRateAndP99ForARunningWorkload()
    {
        if (!File.Exists(PrometheusBinary))
        {
            Assert.Ignore("the Debian package 'prometheus' is not installed (apt-get install prometheus)");
        }

        var dir = Directory.CreateTempSubdirectory("nvmemptls-prom-").FullName;
        Process? prometheus = null;
        try
        {
            var metricsPort = TargetProcess.FreePort();
            var config = Path.Combine(dir, "target.json");
            await File.WriteAllTextAsync(config, InProcessTarget.Config(TargetProcess.FreePort(), metricsPort, Nqn, """{ "Nsid": 1, "Backing": "memory", "Size": "64MiB" }"""));
            await using var target = await InProcessTarget.StartAsync(config);

            var promPort = TargetProcess.FreePort();
            var promConfig = WriteScrapeConfig(dir, $"127.0.0.1:{metricsPort}");
            prometheus = Process.Start(new ProcessStartInfo(PrometheusBinary)
            {
                ArgumentList =
                {
                    $"--config.file={promConfig}",
                    $"--storage.tsdb.path={Path.Combine(dir, "tsdb")}",
                    $"--web.listen-address=127.0.0.1:{promPort}",
                    "--log.level=warn",
                },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            prometheus.BeginErrorReadLine();
            prometheus.BeginOutputReadLine();

            await using var workload = await ServiceWorkload.StartAsync(target.IoEndPoint, Nqn);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{promPort}") };
            var writeRate = await QueryUntilAsync(http, """sum(rate(nvmemptls_namespace_commands_total{operation="write"}[5s]))""", v => v > 0);
            var p99 = await QueryUntilAsync(http, """histogram_quantile(0.99, sum by (le) (rate(nvmemptls_namespace_command_duration_seconds_bucket{operation="write"}[5s])))""", v => v > 0 && !double.IsInfinity(v));
            var readBandwidth = await QueryUntilAsync(http, "sum(rate(nvmemptls_namespace_read_bytes_total[5s]))", v => v > 0);
            var up = await QueryUntilAsync(http, """up{job="nvme-mptls-target"}""", v => v == 1);

            Assert.Multiple(() =>
            {
                Assert.That(writeRate, Is.GreaterThan(0));
                Assert.That(p99, Is.GreaterThan(0).And.LessThan(10), "p99 write latency in seconds");
                Assert.That(readBandwidth, Is.GreaterThan(0));
                Assert.That(up, Is.EqualTo(1));
                Assert.That(workload.Failed, Is.Zero);
            });
            TestContext.Out.WriteLine($"rate(write)={writeRate:F1}/s p99(write)={p99 * 1e6:F0} µs read={readBandwidth / 1e6:F2} MB/s");
        }
        finally
        {
            if (prometheus is { HasExited: false })
            {
                prometheus.Kill();
                await prometheus.WaitForExitAsync();
            }

            prometheus?.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>deploy/prometheus/prometheus.yml with the target address and a 1 s interval substituted.</summary>
    private static string WriteScrapeConfig(string dir, string targetAddress)
    {
        var deploy = Path.Combine(TargetProcess.RepositoryRoot, "deploy", "prometheus");
        var yml = File.ReadAllText(Path.Combine(deploy, "prometheus.yml"));
        Assert.That(yml, Does.Contain("target:9464").And.Contain("scrape_interval: 5s"), "deploy/prometheus/prometheus.yml changed shape");
        yml = yml.Replace("target:9464", targetAddress, StringComparison.Ordinal)
            .Replace("scrape_interval: 5s", "scrape_interval: 1s", StringComparison.Ordinal)
            .Replace("evaluation_interval: 5s", "evaluation_interval: 1s", StringComparison.Ordinal);
        File.Copy(Path.Combine(deploy, "alerts.yml"), Path.Combine(dir, "alerts.yml"));
        var path = Path.Combine(dir, "prometheus.yml");
        File.WriteAllText(path, yml);
        return path;
    }

    /// <summary>Polls an instant query until its first sample satisfies <paramref name="accept"/> (at most 40 s).</summary>
    private static async Task<double> QueryUntilAsync(HttpClient http, string query, Func<double, bool> accept)
    {
        string last = "";
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(40))
        {
            try
            {
                last = await http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
                using var doc = JsonDocument.Parse(last);
                var result = doc.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0)
                {
                    var text = result[0].GetProperty("value")[1].GetString()!;
                    var value = double.Parse(text, CultureInfo.InvariantCulture);
                    if (accept(value))
                    {
                        return value;
                    }
                }
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message; // not listening yet
            }

            await Task.Delay(500);
        }

        Assert.Fail($"Prometheus never answered '{query}' acceptably; last answer: {last}");
        return double.NaN;
    }
}
