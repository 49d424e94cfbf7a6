namespace NvmeMptls.IntegrationTests.TestKit;

/// <summary>
/// Base for fixtures that share one test bed: built once, restored after every test (all paths up, MPTCP
/// enabled on both sides), always torn down at the end. Each derived fixture uses its own tag.
/// </summary>
public abstract class TestbedFixture
{
    private Testbed? _bed;

    protected abstract string Tag { get; }
    protected virtual int Paths => 2;
    protected virtual string? Rate => null;

    protected Testbed Bed => _bed ?? throw new InvalidOperationException("test bed not built");

    [OneTimeSetUp]
    public void BuildTestbed() => _bed = Testbed.UpOrIgnore(Tag, Paths, Rate);

    [TearDown]
    public void RestoreTestbed()
    {
        if (_bed is null)
            return;
        for (int k = 1; k <= Paths; k++)
            _bed.PathUp(k);
        _bed.MptcpOn("initiator");
        _bed.MptcpOn("target");
    }

    [OneTimeTearDown]
    public void TearDownTestbed()
    {
        _bed?.Dispose();
        _bed = null;
    }
}
