using NvmeMptls.Fuzz;

namespace NvmeMptls.Tests.Fuzz;

/// <summary>
/// Every checked-in fuzz input, replayed without AFL: the seed and kept corpora (fuzz/corpus/TARGET) and every
/// crash or hang a fuzz run found (fuzz/crashes/TARGET), so each finding stays a regression test with its input.
/// An input passes when its target returns: only the documented exceptions for bad input, in time, within the
/// allocation bound (<see cref="FuzzTargets"/>).
/// </summary>
public sealed class CorpusReplayTests
{
    private static readonly string s_fuzzDirectory = FindFuzzDirectory();

    public static IEnumerable<TestCaseData> Inputs()
    {
        foreach (var kind in new[] { "corpus", "crashes" })
        {
            var root = Path.Combine(s_fuzzDirectory, kind);
            if (!Directory.Exists(root))
            {
                continue;
            }

            foreach (var folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                var target = Path.GetFileName(folder);
                foreach (var file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                {
                    yield return new TestCaseData(target, Path.GetRelativePath(s_fuzzDirectory, file)).SetName($"Replay_{kind}_{target}_{Path.GetFileName(file)}");
                }
            }
        }
    }

    [TestCaseSource(nameof(Inputs))]
    public void Input_RunsThroughItsTargetWithoutAFinding(string target, string file) =>
        Assert.DoesNotThrow(() => FuzzTargets.Run(target, File.ReadAllBytes(Path.Combine(s_fuzzDirectory, file))));

    [Test]
    public void EveryTarget_HasASeedCorpus()
    {
        foreach (var target in FuzzTargets.Names)
        {
            var folder = Path.Combine(s_fuzzDirectory, "corpus", target);
            Assert.That(Directory.Exists(folder) && Directory.GetFiles(folder).Length > 0, Is.True, $"no seed inputs in fuzz/corpus/{target}");
        }
    }

    [Test]
    public void EveryCorpusFolder_IsATarget()
    {
        foreach (var kind in new[] { "corpus", "crashes" })
        {
            var root = Path.Combine(s_fuzzDirectory, kind);
            var folders = Directory.Exists(root) ? Directory.GetDirectories(root).Select(Path.GetFileName) : [];
            Assert.That(folders, Is.SubsetOf(FuzzTargets.Names), $"fuzz/{kind} has a folder that names no target");
        }
    }

    [Test]
    public void SeedCorpus_IsWhatTheGeneratorWrites()
    {
        foreach (var (target, name, bytes) in SeedCorpus.All())
        {
            if (target is "client-hello" or "tls-accept")
            {
                continue; // a real ClientHello carries fresh randoms and key shares each time
            }

            var file = Path.Combine(s_fuzzDirectory, "corpus", target, "seed-" + name);
            Assert.That(File.ReadAllBytes(file), Is.EqualTo(bytes), $"{file} is stale: run `NvmeMptls.Fuzz seeds fuzz/corpus`");
        }
    }

    private static string FindFuzzDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "fuzz", "corpus");
            if (Directory.Exists(candidate))
            {
                return Path.Combine(dir.FullName, "fuzz");
            }
        }

        throw new DirectoryNotFoundException($"no fuzz/corpus above {AppContext.BaseDirectory}");
    }
}
