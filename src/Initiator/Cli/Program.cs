namespace NvmeMptls.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("nvme-mptls: not assembled yet");
        return args.Length == 0 ? 1 : 1;
    }
}
