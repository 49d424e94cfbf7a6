using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Transport.Tls;

public sealed partial class TlsRecordConnection
{
    /// <summary>
    /// The connection's Output. <see cref="GetMemory"/> hands out the free rest of the record being built, which lies
    /// in the inner writer's buffer right after room for the header; a record is sealed in place (header, content type,
    /// AES-GCM, tag) once full or at <see cref="FlushAsync"/>, so several PDUs share a record of up to 16 KiB and the
    /// plaintext is never copied. The write lock is held from the first <see cref="GetMemory"/> after a flush until the
    /// next flush ends, because the receive loop writes alerts and KeyUpdates into the same inner writer.
    /// Like any PipeWriter, one writer at a time. A size hint above one record's plaintext cannot be met in place: such a
    /// write is staged in a pooled block and copied into records at <see cref="Advance"/> (PduWriter asks for at most
    /// 4 KiB and takes what is there, so NVMe/TCP never goes this way).
    /// </summary>
    private sealed class RecordWriter(TlsRecordConnection connection) : PipeWriter
    {
        private readonly int _maxPlaintext = connection._options.MaxPlaintextPerRecord;
        private readonly int _maxRecordBytes = connection._options.MaxPlaintextPerRecord + TlsRecordLimits.SealOverhead;
        private Memory<byte> _record;
        private int _used;
        private bool _locked;
        private int _ownerThread;
        private bool _inCommit;
        private byte[]? _discard;
        private IMemoryOwner<byte>? _staging;
        private int _completed;
        private Task? _completing;
        private volatile bool _aborted;

        /// <summary>Completes when the application completed the writer and close_notify went out (or could not).</summary>
        public Task Completing => Volatile.Read(ref _completing) ?? Task.CompletedTask;

        public void OnAbort() => _aborted = true;

        private bool Closed => Volatile.Read(ref _completed) != 0 || _aborted || connection._outputClosed;

        private Memory<byte> Discard(int sizeHint)
        {
            if (_locked)
            {
                _record = default; // an open record is dropped with the rest
            }

            if (_discard is null || _discard.Length < sizeHint)
            {
                _discard = new byte[Math.Max(sizeHint, _maxPlaintext)];
            }

            return _discard;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            if (!TryLock())
            {
                // Completed, aborted or closed by a fatal alert: accept and drop; FlushAsync says completed.
                return Discard(sizeHint);
            }

            if (sizeHint > _maxPlaintext)
            {
                _staging?.Dispose();
                _staging = sizeHint <= PipeBufferPool.MaxBlockSize
                    ? PipeBufferPool.Connections.Rent(sizeHint)
                    : MemoryPool<byte>.Shared.Rent(sizeHint);
                return _staging.Memory;
            }

            if (_record.IsEmpty)
            {
                Open();
            }
            else if (sizeHint > _maxPlaintext - _used)
            {
                CommitRecord();
                Open();
            }

            return _record.Slice(TlsRecordLimits.HeaderLength + _used, _maxPlaintext - _used);
        }

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        /// <summary>Takes the write lock for the burst (if not held yet); false when the output is closed.</summary>
        private bool TryLock()
        {
            if (Closed)
            {
                return false;
            }

            if (!_locked)
            {
                // Uncontended unless the receive loop is sending an alert or a KeyUpdate at this moment.
                connection._writeLock.Wait();
                _locked = true;
                _ownerThread = Environment.CurrentManagedThreadId;
            }

            return !Closed;
        }

        /// <summary>
        /// Puts <paramref name="data"/> after everything written so far: the open record takes what fits behind its
        /// content and is sealed, then whole records, the last one sealed short, each straight from
        /// <paramref name="data"/>. So every record with spliced bytes ends with them and is sealed before this returns,
        /// and the caller may reuse the memory at once. False when the output is closed before all of it was sealed
        /// (nothing, or the records sealed before the close, goes out ahead of close_notify).
        /// </summary>
        public bool Splice(ReadOnlySpan<byte> data)
        {
            if (_staging is not null)
            {
                throw new InvalidOperationException("a splice between GetMemory and Advance would land inside the write being made");
            }

            if (!TryLock())
            {
                return false;
            }

            while (!data.IsEmpty)
            {
                if (Closed)
                {
                    _record = default;
                    return false;
                }

                if (_record.IsEmpty)
                {
                    Open();
                }

                int n = Math.Min(_maxPlaintext - _used, data.Length);
                CommitRecord(data[..n]);
                data = data[n..];
            }

            return true;
        }

        public override void Advance(int bytes)
        {
            if (_staging is { } staging)
            {
                _staging = null;
                try
                {
                    WriteStaged(staging.Memory.Span[..bytes]);
                }
                finally
                {
                    staging.Dispose();
                }

                return;
            }

            if (_record.IsEmpty)
            {
                return; // written into the discard buffer
            }

            ArgumentOutOfRangeException.ThrowIfNegative(bytes);
            if (bytes > _maxPlaintext - _used)
            {
                throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"only {_maxPlaintext - _used} bytes were handed out");
            }

            _used += bytes;
            if (_used == _maxPlaintext)
            {
                CommitRecord();
            }
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (!_locked && Volatile.Read(ref _completed) != 0)
            {
                return new FlushResult(isCanceled: false, isCompleted: true);
            }

            if (!_locked)
            {
                await connection._writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
                _locked = true;
            }

            try
            {
                if (Closed)
                {
                    _record = default;
                    return new FlushResult(isCanceled: false, isCompleted: true);
                }

                if (!_record.IsEmpty)
                {
                    CommitRecord();
                }

                return await connection._inner.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _locked = false;
                connection._writeLock.Release();
            }
        }

        public override void CancelPendingFlush() => connection._inner.Output.CancelPendingFlush();

        /// <summary>Seals what was written, sends close_notify and completes the inner output, in the background.</summary>
        public override void Complete(Exception? exception = null)
        {
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                Volatile.Write(ref _completing, CloseAsync());
            }
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            Complete(exception);
            await Completing.ConfigureAwait(false);
        }

        private async Task CloseAsync()
        {
            var owner = _locked && _ownerThread == Environment.CurrentManagedThreadId;
            var alert = _aborted ? (TlsAlertDescription?)null : TlsAlertDescription.CloseNotify;
            if (owner && _inCommit)
            {
                // Completed from inside our own record commit (a key-limit handler disposing the connection): the
                // writer's coming flush releases the lock, and the close waits for it.
                await connection.SendAlertAndCloseAsync(alert).ConfigureAwait(false);
                return;
            }

            // The writer completing its own unflushed burst already holds the lock; anyone else (DisposeAsync on another
            // thread) waits until the writer's burst is flushed (later writes go to the discard buffer).
            if (!owner)
            {
                await connection._writeLock.WaitAsync().ConfigureAwait(false);
            }

            try
            {
                if (!_record.IsEmpty && !connection._outputClosed && !_aborted)
                {
                    CommitRecord();
                }
            }
            catch (IOException)
            {
                // A key-limit failure: the peer gets no close_notify under an exhausted key.
            }
            finally
            {
                _staging?.Dispose();
                _staging = null;
                _record = default;
                _locked = false;
                connection._writeLock.Release();
            }

            // RFC 8446 §6.1: each party MUST send close_notify before closing its write side.
            await connection.SendAlertAndCloseAsync(alert).ConfigureAwait(false);
        }

        /// <summary>Copies a large write into records: fills the open one, then whole ones.</summary>
        private void WriteStaged(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty && !connection._outputClosed && !_aborted)
            {
                if (_record.IsEmpty)
                {
                    Open();
                }

                int n = Math.Min(_maxPlaintext - _used, data.Length);
                data[..n].CopyTo(_record.Span[(TlsRecordLimits.HeaderLength + _used)..]);
                data = data[n..];
                _used += n;
                if (_used == _maxPlaintext)
                {
                    CommitRecord();
                }
            }
        }

        private void Open()
        {
            // Exactly one record's room: asking for more would start a new segment while a record still fits.
            _record = connection._inner.Output.GetMemory(_maxRecordBytes);
            _used = 0;
        }

        /// <summary>
        /// Seals the open record (nothing if it holds no content), with <paramref name="spliced"/> after its content
        /// sealed from where it lies, and checks the key's usage limit.
        /// </summary>
        private void CommitRecord(ReadOnlySpan<byte> spliced = default)
        {
            Memory<byte> record = _record;
            int used = _used;
            _record = default;
            _used = 0;
            if (used == 0 && spliced.IsEmpty)
            {
                return;
            }

            _inCommit = true;
            try
            {
                if (spliced.IsEmpty)
                {
                    connection.SealInPlace(record.Span, used, TlsContentType.ApplicationData);
                }
                else
                {
                    connection.SealSpliced(record.Span, used, spliced);
                }

                connection.CheckKeyLimit();
            }
            finally
            {
                _inCommit = false;
            }
        }
    }
}
