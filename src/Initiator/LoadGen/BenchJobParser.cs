using System.Globalization;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>
/// Reads fio command lines and fio job files into <see cref="BenchJob"/>s. Keys and values mean what they mean to
/// fio; options that only make sense for fio's own engines (ioengine, direct, filename, ...) are accepted and
/// listed in <see cref="BenchJob.Notes"/>, so an existing job file runs unchanged where the options overlap.
/// </summary>
public static class BenchJobParser
{
    private static readonly HashSet<string> s_ignored = new(StringComparer.Ordinal)
    {
        "ioengine", "direct", "buffered", "filename", "directory", "thread", "invalidate", "norandommap",
        "randrepeat", "iodepth_batch", "iodepth_batch_submit", "iodepth_batch_complete", "iodepth_batch_complete_min",
        "iodepth_low", "uri", "exitall", "stonewall", "wait_for_previous", "allow_file_create", "do_verify",
        "verify_fatal", "verify_backlog", "verify_interval", "verify_dump", "lat_percentiles", "clat_percentiles",
        "percentile_list", "disk_util", "unlink", "fsync", "end_fsync", "refill_buffers", "scramble_buffers",
        "buffer_compress_percentage", "zero_buffers", "create_on_open", "gtod_reduce", "cpus_allowed", "log_avg_msec",
        "write_bw_log", "write_lat_log", "write_iops_log", "random_generator", "nrfiles", "file_service_type", "group",
    };

    /// <summary>
    /// Parses fio-style arguments: <c>--key=value</c> or <c>--key value</c>; each <c>--name</c> starts a job and
    /// options before the first one are global (as in fio). <c>--job FILE</c> or a bare <c>*.fio</c>/<c>*.ini</c>
    /// argument loads a job file; command-line options before it act as its globals.
    /// </summary>
    public static IReadOnlyList<BenchJob> Parse(IReadOnlyList<string> args)
    {
        var global = new Dictionary<string, string>(StringComparer.Ordinal);
        var jobs = new List<List<KeyValuePair<string, string>>>();
        var fileJobs = new List<BenchJob>();
        List<KeyValuePair<string, string>>? current = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                fileJobs.AddRange(ParseJobFile(File.ReadAllText(arg), global));
                continue;
            }

            var body = arg[2..];
            string key;
            string value;
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                key = Normalize(body[..eq]);
                value = body[(eq + 1)..];
            }
            else
            {
                key = Normalize(body);
                value = IsFlag(key) || i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal) ? "1" : args[++i];
            }

            if (key == "job")
            {
                fileJobs.AddRange(ParseJobFile(File.ReadAllText(value), global));
            }
            else if (key == "name")
            {
                current = [new(key, value)];
                jobs.Add(current);
            }
            else if (current is null)
            {
                global[key] = value;
            }
            else
            {
                current.Add(new(key, value));
            }
        }

        var result = new List<BenchJob>(fileJobs);
        foreach (var job in jobs)
        {
            result.Add(Build(global, job));
        }

        if (result.Count == 0)
        {
            result.Add(Build(global, []));
        }

        return result;
    }

    /// <summary>Parses an fio job file: <c>[global]</c> plus one section per job; <c>;</c> and <c>#</c> start comments.</summary>
    public static IReadOnlyList<BenchJob> ParseJobFile(string text, IReadOnlyDictionary<string, string>? commandLineGlobals = null)
    {
        var global = new Dictionary<string, string>(StringComparer.Ordinal);
        if (commandLineGlobals is not null)
        {
            foreach (var pair in commandLineGlobals)
            {
                global[pair.Key] = pair.Value;
            }
        }

        var jobs = new List<List<KeyValuePair<string, string>>>();
        List<KeyValuePair<string, string>>? section = null;
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is ';' or '#')
            {
                continue;
            }

            if (line[0] == '[')
            {
                var close = line.IndexOf(']', StringComparison.Ordinal);
                if (close < 2)
                {
                    throw new BenchJobException($"job file line {lineNumber}: bad section header '{line}'");
                }

                var name = line[1..close].Trim();
                section = name == "global" ? null : [new("name", name)];
                if (section is not null)
                {
                    jobs.Add(section);
                }

                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            var key = Normalize((eq >= 0 ? line[..eq] : line).Trim());
            var value = eq >= 0 ? line[(eq + 1)..].Trim() : "1";
            if (section is null)
            {
                global[key] = value;
            }
            else
            {
                section.Add(new(key, value));
            }
        }

        var result = new List<BenchJob>(jobs.Count);
        foreach (var job in jobs)
        {
            result.Add(Build(global, job));
        }

        return result;
    }

    private static BenchJob Build(IReadOnlyDictionary<string, string> global, List<KeyValuePair<string, string>> own)
    {
        var job = new BenchJob();
        var notes = new List<string>();
        foreach (var pair in global)
        {
            job = Apply(job, pair.Key, pair.Value, notes);
        }

        foreach (var pair in own)
        {
            job = Apply(job, pair.Key, pair.Value, notes);
        }

        job = job with { Notes = notes };
        job.Validate();
        return job;
    }

    private static BenchJob Apply(BenchJob job, string key, string value, List<string> notes)
    {
        switch (key)
        {
            case "name": return job with { Name = value };
            case "rw":
            case "readwrite":
                return job with { Rw = ParseRw(value) };
            case "rwmixread": return job with { RwMixRead = (int)ParseNumber(key, value) };
            case "rwmixwrite": return job with { RwMixRead = 100 - (int)ParseNumber(key, value) };
            case "bs":
            case "blocksize":
                return job with { BlockSize = (int)ParseSize(key, value) };
            case "iodepth": return job with { IoDepth = (int)ParseNumber(key, value) };
            case "numjobs": return job with { NumJobs = (int)ParseNumber(key, value) };
            case "size":
            case "io_size":
                return job with { Size = ParseSize(key, value) };
            case "offset": return job with { Offset = ParseSize(key, value) };
            case "offset_increment": return job with { OffsetIncrement = ParseSize(key, value) };
            case "runtime": return job with { Runtime = ParseTime(key, value) };
            case "time_based": return job with { TimeBased = ParseBool(key, value) };
            case "ramp_time": return job with { RampTime = ParseTime(key, value) };
            case "group_reporting": return job with { GroupReporting = ParseBool(key, value) };
            case "randseed": return job with { RandSeed = (ulong)ParseNumber(key, value) };
            case "nr_io_queues": return job with { NrIoQueues = (int)ParseNumber(key, value) };
            case "continue_on_error":
                return job with { ContinueOnError = value is not ("none" or "0") };
            case "verify":
                return value switch
                {
                    "crc32c" or "crc32c-intel" => job with { Verify = BenchVerify.Crc32c },
                    "0" or "none" => job with { Verify = BenchVerify.None },
                    _ => throw new BenchJobException($"verify={value} is not supported; use crc32c or 0"),
                };
            case "ioengine" when value == "null":
                return job with { Engine = BenchEngine.Null };
            case "ioengine":
                notes.Add($"{key}={value}: fio engine option, not applicable here, ignored");
                return job with { Engine = BenchEngine.Nvme };
            case "output_format":
                return value switch
                {
                    "normal" => job with { OutputFormat = BenchOutputFormat.Normal },
                    "json" or "json+" => job with { OutputFormat = BenchOutputFormat.Json },
                    _ => throw new BenchJobException($"output-format={value} is not supported; use normal or json"),
                };
            default:
                notes.Add(s_ignored.Contains(key)
                    ? $"{key}={value}: fio engine option, not applicable here, ignored"
                    : $"{key}={value}: unknown option, ignored");
                return job;
        }
    }

    private static string Normalize(string key) => key.Replace('-', '_');

    private static bool IsFlag(string key) => key is "time_based" or "group_reporting" or "thread" or "norandommap" or "stonewall";

    private static BenchRw ParseRw(string value) => value switch
    {
        "read" => BenchRw.Read,
        "write" => BenchRw.Write,
        "randread" => BenchRw.RandRead,
        "randwrite" => BenchRw.RandWrite,
        "rw" or "readwrite" => BenchRw.ReadWrite,
        "randrw" => BenchRw.RandRw,
        _ => throw new BenchJobException($"rw={value} is not supported; use read, write, randread, randwrite, rw/readwrite or randrw"),
    };

    private static bool ParseBool(string key, string value) => value switch
    {
        "1" or "true" or "yes" or "on" => true,
        "0" or "false" or "no" or "off" => false,
        _ => throw new BenchJobException($"{key}={value}: expected 0 or 1"),
    };

    private static long ParseNumber(string key, string value)
    {
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            throw new BenchJobException($"{key}={value}: expected a whole number");
        }

        return number;
    }

    /// <summary>fio sizes: k, m, g, t (also KiB/KB forms), all powers of 1024 as with fio's default kb_base=1024.</summary>
    public static long ParseSize(string key, string value)
    {
        var text = value.Trim();
        var end = 0;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        if (end == 0 || !long.TryParse(text.AsSpan(0, end), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            throw new BenchJobException($"{key}={value}: expected a size such as 4k, 1m or 2g");
        }

        long multiplier = text[end..].ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            "t" or "tb" or "tib" => 1L << 40,
            _ => throw new BenchJobException($"{key}={value}: unknown size suffix (ranges and percentages are not supported)"),
        };
        return checked(number * multiplier);
    }

    /// <summary>fio times: plain numbers are seconds; us, ms, s, m, h, d suffixes.</summary>
    public static TimeSpan ParseTime(string key, string value)
    {
        var text = value.Trim();
        var end = 0;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        if (end == 0 || !long.TryParse(text.AsSpan(0, end), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            throw new BenchJobException($"{key}={value}: expected a time such as 30, 500ms or 2m");
        }

        return text[end..].ToLowerInvariant() switch
        {
            "" or "s" or "sec" => TimeSpan.FromSeconds(number),
            "us" or "usec" => TimeSpan.FromMicroseconds(number),
            "ms" or "msec" => TimeSpan.FromMilliseconds(number),
            "m" or "min" => TimeSpan.FromMinutes(number),
            "h" => TimeSpan.FromHours(number),
            "d" => TimeSpan.FromDays(number),
            _ => throw new BenchJobException($"{key}={value}: unknown time suffix"),
        };
    }
}
