namespace RawLongLoRA.Distributed;

/// <summary>
/// OpenMPI requests issued together by one <see cref="MpiCommunicator"/> call. <see cref="Wait"/> polls them with
/// MPI_Testall and a short back-off until they finish or the communicator's timeout passes, so that a peer which died
/// or never makes the call is an error, not a hang. The buffers (tensors, count arrays) stay referenced until then.
/// </summary>
internal sealed unsafe class MpiRequest : ICommRequest
{
    private readonly MpiCommunicator _owner;
    private readonly string _op, _peers;
    private readonly nint[] _requests;
    private readonly MpiNative.Status[] _statuses;
    private readonly object[] _keep;
    private (int Index, int Expected, nint Type, int Peer)? _receive;
    private Action? _then;
    private bool _done;

    public MpiRequest(MpiCommunicator owner, string op, string peers, int count, params object[] keep)
    {
        _owner = owner;
        _op = op;
        _peers = peers;
        _requests = GC.AllocateArray<nint>(count, pinned: true);
        _statuses = GC.AllocateArray<MpiNative.Status>(count, pinned: true);
        _keep = keep;
    }

    /// <summary>Where MPI writes request <paramref name="i"/> (the array is pinned).</summary>
    public nint* Slot(int i)
    {
        fixed (nint* p = &_requests[i])
            return p;
    }

    /// <summary>After the wait, request <paramref name="index"/> must have received exactly <paramref name="expected"/> elements.</summary>
    public MpiRequest ExpectReceived(int index, int expected, nint type, int peer)
    {
        _receive = (index, expected, type, peer);
        return this;
    }

    /// <summary>Work to do on this rank once the transfer is done (the division of an average).</summary>
    public MpiRequest Then(Action then)
    {
        _then = then;
        return this;
    }

    public void Wait()
    {
        if (_done)
            return;
        // Progress happens inside MPI_Testall.
        CommPoll.Until(Test, _owner.Timeout, () => _owner.Fail(_op, _peers, timedOut: true));
        _done = true;
        if (_receive is var (index, expected, type, peer))
        {
            int got;
            fixed (MpiNative.Status* status = &_statuses[index])
                using (MpiCommunicator.Gate.EnterScope())
                    MpiNative.MPI_Get_count(status, type, out got);
            if (got != expected)
                throw new CommunicatorException($"{_op}: rank {peer} sent {got} elements; rank {_owner.Rank} expects {expected}");
        }
        _then?.Invoke();
        GC.KeepAlive(_keep);
    }

    private bool Test()
    {
        int code, flag;
        fixed (nint* requests = _requests)
        fixed (MpiNative.Status* statuses = _statuses)
            using (MpiCommunicator.Gate.EnterScope())
                code = MpiNative.MPI_Testall(_requests.Length, requests, out flag, statuses);
        if (code != 0)
            throw _owner.Fail(_op, _peers, _statuses.Select(s => s.Error).FirstOrDefault(e => e != 0, code));
        return flag != 0;
    }
}
