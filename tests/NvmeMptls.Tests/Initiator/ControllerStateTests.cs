using NvmeMptls.Initiator;

namespace NvmeMptls.Tests.Initiator;

/// <summary>The controller life cycle that <c>SetStateLocked</c> enforces.</summary>
public sealed class ControllerStateTests
{
    [TestCase(NvmeControllerState.Connecting, NvmeControllerState.Live)]
    [TestCase(NvmeControllerState.Live, NvmeControllerState.Resetting)]
    [TestCase(NvmeControllerState.Resetting, NvmeControllerState.Live)]
    [TestCase(NvmeControllerState.Resetting, NvmeControllerState.Failed)]
    [TestCase(NvmeControllerState.Connecting, NvmeControllerState.Closed)]
    [TestCase(NvmeControllerState.Live, NvmeControllerState.Closed)]
    [TestCase(NvmeControllerState.Resetting, NvmeControllerState.Closed)]
    [TestCase(NvmeControllerState.Failed, NvmeControllerState.Closed)]
    public void Transition_InLifeCycle_IsLegal(NvmeControllerState from, NvmeControllerState to) =>
        Assert.That(NvmeController.IsLegal(from, to), Is.True);

    [TestCase(NvmeControllerState.Closed, NvmeControllerState.Live)]
    [TestCase(NvmeControllerState.Closed, NvmeControllerState.Closed)]
    [TestCase(NvmeControllerState.Failed, NvmeControllerState.Live)]
    [TestCase(NvmeControllerState.Live, NvmeControllerState.Failed)]
    [TestCase(NvmeControllerState.Live, NvmeControllerState.Live)]
    [TestCase(NvmeControllerState.Connecting, NvmeControllerState.Resetting)]
    public void Transition_OutsideLifeCycle_IsRejected(NvmeControllerState from, NvmeControllerState to) =>
        Assert.That(NvmeController.IsLegal(from, to), Is.False);
}
