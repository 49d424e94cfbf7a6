using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using NvmeMptls.Initiator;

namespace NvmeMptls.Bench;

/// <summary>
/// Which types the steady-state I/O path allocates: target and initiator in one process over one carrier, 4 KiB I/O
/// at QD16, with the runtime's GC AllocationTick events (one sample per ~100 KB allocated, with the type that crossed
/// the threshold) counted by type. Prints bytes per I/O and the sampled types.
/// Usage: dotnet run --project bench/NvmeMptls.Bench -c Release -- alloc [carrier] [read|write] [seconds] [size] [depth]
/// </summary>
internal static class AllocationProfile
{
    public static async Task<int> RunAsync(string[] args)
    {
        string carrier = args.Length > 1 ? args[1] : "tcp";
        bool write = args.Length > 2 && args[2] == "write";
        double seconds = args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 10;
        int size = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 4096;
        int depth = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 16;
        await using var setup = await Program.Setup.CreateAsync(carrier);
        await using var controller = await NvmeController.ConnectAsync(NvmeControllerOptions.Default with
        {
            TargetPort = setup.Port,
            SubsystemNqn = "nqn.2026-01.io.nvmemptls:bench",
            IoQueueCount = 1,
            QueueSize = 64,
            Tls = setup.Psk is not null,
            TlsKey = setup.Psk,
        }, setup.Factory);
        var ns = await controller.OpenNamespaceAsync(1);
        await Program.FillAsync(ns);
        await Program.Run(ns, size, depth, write, 2);

        using var listener = new AllocationListener();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var result = await Program.Run(ns, size, depth, write, seconds);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        long ios = (long)(result.Iops * seconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{carrier} {size / 1024} KiB {(write ? "write" : "read")} QD{depth}, 1 queue, {seconds} s: {ios} I/Os, {allocated} B allocated in the process, {(double)allocated / ios:0.0} B/IO (both ends)"));
        foreach (var (type, count) in listener.Samples.OrderByDescending(kv => kv.Value).Take(25))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {count,5}  {type}"));
        }

        return 0;
    }

    private sealed class AllocationListener : EventListener
    {
        public ConcurrentDictionary<string, int> Samples { get; } = new(StringComparer.Ordinal);

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true && eventData.PayloadNames is { } names)
            {
                int i = names.IndexOf("TypeName");
                string type = i >= 0 ? eventData.Payload?[i]?.ToString() ?? "?" : "?";
                int size = names.IndexOf("ObjectSize");
                if (type == "System.Byte[]" && size >= 0 && eventData.Payload?[size] is { } objectSize)
                {
                    // Arrays by size: which pool bucket (pipe segment, record buffer, I/O buffer) is being outgrown.
                    type = string.Create(CultureInfo.InvariantCulture, $"System.Byte[] of {objectSize} B");
                }
                Samples.AddOrUpdate(type, 1, (_, n) => n + 1);
            }
        }
    }
}
