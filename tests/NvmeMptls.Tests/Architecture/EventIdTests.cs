using System.Reflection;
using Microsoft.Extensions.Logging;
using NvmeMptls.Tests.Target.Configuration;
using NvmeMptls.Transport.Diagnostics;

namespace NvmeMptls.Tests.Architecture;

/// <summary>
/// Every [LoggerMessage] of every NvmeMptls assembly has an id of its own, inside the block that
/// <see cref="EventIdRanges"/> gives its component: operators grep and alert on these ids.
/// </summary>
public sealed class EventIdTests
{
    // Which block a logging type belongs to, by namespace or full type name; the longest match wins. When a
    // move gives a type a namespace that is not here, the test names it: add a line (and a docs row if the
    // component is new). The engine's server still sits in the Hosting namespace beside the service.
    private static readonly (string Prefix, EventIdRange Range)[] Owners =
    [
        ("NvmeMptls.Transport.Sockets", EventIdRanges.TransportSockets),
        ("NvmeMptls.Transport.Multipath", EventIdRanges.TransportMultipath),
        ("NvmeMptls.Transport.Tls", EventIdRanges.TransportTls),
        ("NvmeMptls.Crypto", EventIdRanges.Crypto),
        ("NvmeMptls.Target", EventIdRanges.TargetService),
        ("NvmeMptls.Target.Service", EventIdRanges.TargetService),
        ("NvmeMptls.Target.Engine", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Queues", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Controllers", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Namespaces", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Subsystems", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Server", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Tcp", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Commands", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Auth", EventIdRanges.TargetEngine),
        ("NvmeMptls.Target.Gateway", EventIdRanges.TargetEngine),
        ("NvmeMptls.Initiator", EventIdRanges.Initiator),
        ("NvmeMptls.Initiator.Nbd", EventIdRanges.Nbd),
        ("NvmeMptls.Cli.Mount", EventIdRanges.Mount),
        ("NvmeMptls.Initiator.LoadGen", EventIdRanges.LoadGen),
        ("NvmeMptls.Cli", EventIdRanges.Cli),
        ("NvmeMptls.Bench", EventIdRanges.Tools),
        ("NvmeMptls.KtlsProbe", EventIdRanges.Tools),
    ];

    private sealed record Message(string Where, string OwnerName, int EventId);

    [Test]
    public void Scan_FindsTheMessagesOfEveryLayer()
    {
        var names = OurAssemblies().Select(a => a.GetName().Name).ToArray();
        Assert.That(names, Is.SupersetOf(new[] { "NvmeMptls.Transport", "NvmeMptls.Crypto", "NvmeMptls.Initiator", "nvme-mptls-target", "nvme-mptls" }));
        Assert.That(Messages(), Has.Count.GreaterThan(50), "the scan should see every [LoggerMessage]");
    }

    [Test]
    public void EventIds_AreUniqueAcrossAllAssemblies()
    {
        var duplicates = Messages().GroupBy(m => m.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Where))}").ToArray();
        Assert.That(duplicates, Is.Empty);
    }

    [Test]
    public void EventIds_LieInTheBlockOfTheirComponent()
    {
        var wrong = new List<string>();
        foreach (var m in Messages())
        {
            var owner = Owners.Where(o => IsUnder(m.OwnerName, o.Prefix)).OrderByDescending(o => o.Prefix.Length).FirstOrDefault();
            if (owner.Prefix is null)
            {
                wrong.Add($"{m.Where}: no block for {m.OwnerName}; add it to {nameof(EventIdTests)}.{nameof(Owners)}");
            }
            else if (!owner.Range.Contains(m.EventId))
            {
                wrong.Add($"{m.Where}: id {m.EventId} is outside {owner.Range}");
            }
        }

        Assert.That(wrong, Is.Empty);
    }

    [Test]
    public void Blocks_DoNotOverlap()
    {
        var ranges = EventIdRanges.All.OrderBy(r => r.First).ToArray();
        for (int i = 0; i < ranges.Length; i++)
        {
            Assert.That(ranges[i].Last, Is.GreaterThanOrEqualTo(ranges[i].First), ranges[i].ToString());
            if (i > 0)
            {
                Assert.That(ranges[i].First, Is.GreaterThan(ranges[i - 1].Last), $"{ranges[i - 1]} overlaps {ranges[i]}");
            }
        }
    }

    [Test]
    public void Documentation_ListsEveryBlock()
    {
        string doc = File.ReadAllText(Path.Combine(ConfigurationTestKit.RepositoryRoot(), "docs", "event-ids.md"));
        foreach (var r in EventIdRanges.All)
        {
            Assert.That(doc, Does.Contain($"| {r.First}–{r.Last} | {r.Component} |"), r.ToString());
        }
    }

    private static List<Message> Messages()
    {
        var found = new List<Message>();
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (var assembly in OurAssemblies())
        {
            foreach (var type in assembly.GetTypes())
            {
                foreach (var method in type.GetMethods(All))
                {
                    if (method.GetCustomAttribute<LoggerMessageAttribute>() is { } attribute)
                    {
                        var owner = type;
                        while (owner.DeclaringType is { } outer)
                        {
                            owner = outer;
                        }

                        found.Add(new Message($"{type.FullName}.{method.Name} ({assembly.GetName().Name})", owner.FullName ?? owner.Name, attribute.EventId));
                    }
                }
            }
        }

        return found;
    }

    /// <summary>
    /// Our assemblies: those loaded, everything they reference, and every one copied beside the tests (the
    /// compiler drops a reference the tests never use, so a newly split assembly may only be found as a file).
    /// </summary>
    private static IReadOnlyCollection<Assembly> OurAssemblies()
    {
        var pending = new Stack<Assembly>(AppDomain.CurrentDomain.GetAssemblies());
        pending.Push(typeof(EventIdTests).Assembly);
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
        {
            if (IsOurs(Path.GetFileNameWithoutExtension(file)))
            {
                pending.Push(Assembly.Load(AssemblyName.GetAssemblyName(file)));
            }
        }

        var ours = new Dictionary<string, Assembly>(StringComparer.OrdinalIgnoreCase);
        while (pending.TryPop(out var assembly))
        {
            string? name = assembly.GetName().Name;
            if (name is null || !IsOurs(name) || !ours.TryAdd(name, assembly))
            {
                continue;
            }

            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (reference.Name is { } r && IsOurs(r) && !ours.ContainsKey(r))
                {
                    pending.Push(Assembly.Load(reference));
                }
            }
        }

        return ours.Values;
    }

    private static bool IsOurs(string name) =>
        name.StartsWith("NvmeMptls", StringComparison.OrdinalIgnoreCase) || name.StartsWith("nvme-mptls", StringComparison.OrdinalIgnoreCase);

    private static bool IsUnder(string fullName, string prefix) =>
        fullName == prefix || fullName.StartsWith(prefix + ".", StringComparison.Ordinal);
}
