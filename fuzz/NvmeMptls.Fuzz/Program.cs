using NvmeMptls.Fuzz;
using SharpFuzz;

// Usage (see fuzz/README.md):
//   NvmeMptls.Fuzz TARGET                    under afl-fuzz (SharpFuzz's out-of-process forkserver loop)
//   NvmeMptls.Fuzz TARGET replay PATH...     every file (or every file under each folder) once, no AFL
//   NvmeMptls.Fuzz seeds DIR                 writes the seed corpus: DIR/TARGET/*
//   NvmeMptls.Fuzz list                      the target names
if (args.Length == 1 && args[0] == "list")
{
    Console.WriteLine(string.Join('\n', FuzzTargets.Names));
    return 0;
}

if (args.Length == 2 && args[0] == "seeds")
{
    SeedCorpus.WriteAll(args[1]);
    return 0;
}

if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: NvmeMptls.Fuzz TARGET [replay PATH...] | seeds DIR | list  (targets: {string.Join(", ", FuzzTargets.Names)})");
    return 2;
}

var target = args[0];
if (args.Length >= 2 && args[1] == "replay")
{
    var failures = 0;
    var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p]);
    foreach (var file in files.Order(StringComparer.Ordinal))
    {
        try
        {
            FuzzTargets.Run(target, File.ReadAllBytes(file));
        }
        catch (Exception ex)
        {
            failures++;
            Console.Error.WriteLine($"{file}: {ex}");
        }
    }

    return failures == 0 ? 0 : 1;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    FuzzTargets.Run(target, copy.ToArray());
});
return 0;
