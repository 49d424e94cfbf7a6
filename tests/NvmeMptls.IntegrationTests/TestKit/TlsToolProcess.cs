using System.Diagnostics;
using System.Text;

namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>Runs an interop peer (openssl, gnutls-serv/cli) with stdin/stdout captured; killed on dispose.</summary>
public sealed class TlsToolProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    public TlsToolProcess(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { lock (_stdout) { _stdout.Append(e.Data).Append('\n'); } };
        _process.ErrorDataReceived += (_, e) => { lock (_stderr) { _stderr.Append(e.Data).Append('\n'); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public StreamWriter Stdin => _process.StandardInput;

    public string Stdout { get { lock (_stdout) { return _stdout.ToString(); } } }

    public string Stderr { get { lock (_stderr) { return _stderr.ToString(); } } }

    public static string? Find(string tool) =>
        new[] { "/usr/bin/", "/usr/local/bin/", "/bin/" }.Select(d => d + tool).FirstOrDefault(File.Exists);

    public async Task<bool> WaitForStdoutAsync(string text, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (Stdout.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }
            await Task.Delay(50);
        }
        return false;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process.Dispose();
    }
}
