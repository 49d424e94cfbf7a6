namespace NvmeMptls.Transport.Diagnostics;

/// <summary>A block of <c>[LoggerMessage]</c> event ids owned by one component.</summary>
public readonly record struct EventIdRange(string Component, int First, int Last)
{
    public bool Contains(int eventId) => eventId >= First && eventId <= Last;

    public override string ToString() => $"{Component} {First}–{Last}";
}

/// <summary>
/// The one table of log event ids for every NvmeMptls assembly (docs/event-ids.md explains each block).
/// It lives in Transport because every other assembly may see Transport. Operators grep and alert on the
/// ids, so an id never moves once shipped; a new message takes the next free id of its component's block.
/// Architecture/EventIdTests fails on a duplicate id or on an id outside its component's block.
/// </summary>
public static class EventIdRanges
{
    public static readonly EventIdRange TransportSockets = new("Transport.Sockets", 1000, 1099);
    public static readonly EventIdRange TransportMultipath = new("Transport.Multipath", 1100, 1199);
    public static readonly EventIdRange TransportTls = new("Transport.Tls", 1200, 1299);
    public static readonly EventIdRange Crypto = new("Crypto", 2000, 2999);
    public static readonly EventIdRange TargetEngine = new("Target.Engine", 3000, 4999);
    public static readonly EventIdRange TargetService = new("Target.Service", 5000, 5999);
    public static readonly EventIdRange Initiator = new("Initiator.Client", 6000, 6999);
    public static readonly EventIdRange Nbd = new("Initiator.Nbd", 7000, 7499);
    public static readonly EventIdRange Mount = new("Initiator.Mount", 7500, 7999);
    public static readonly EventIdRange LoadGen = new("Initiator.LoadGen", 8000, 8499);
    public static readonly EventIdRange Cli = new("Initiator.Cli", 8500, 8999);
    public static readonly EventIdRange Tools = new("Tools", 9000, 9999);

    public static IReadOnlyList<EventIdRange> All { get; } =
    [
        TransportSockets, TransportMultipath, TransportTls, Crypto, TargetEngine, TargetService,
        Initiator, Nbd, Mount, LoadGen, Cli, Tools,
    ];
}
