namespace NvmeMptls.Target;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("nvme-mptls-target: not assembled yet");
        return args.Length == 0 ? 1 : 1;
    }
}
