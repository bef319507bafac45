using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Portal.Qemu.Agent;

/// <summary>
/// Talks to <c>portal-agent</c> on the guest's virtio-serial port (framing in guest/README.md):
/// <c>R id len</c> + command runs it, the guest streams <c>O id len</c> + output and ends with
/// <c>X id code</c>; <c>C id n</c> returns output credit, <c>K id</c> kills, <c>P token</c> pings,
/// <c>Q</c> shuts the guest down.
/// </summary>
/// <remarks>
/// Output flow control: the agent sends a command at most <see cref="OutputWindow"/> bytes beyond
/// what the host has acknowledged with <c>C</c>, and the host acknowledges only what the command's
/// consumer has taken. So a consumer that stops holds back its own command in the guest (which blocks
/// writing to its pipe), while the read loop keeps serving every other command, pings and the exit
/// frames; each command buffers at most one window on the host.
/// </remarks>
internal sealed class AgentClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<string, RunningCommand> _running = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _bye = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private readonly FrameReader _frames;
    private long _nextId;
    private long _pings;
    private Exception? _failure;

    /// <summary>Output bytes a command may have in flight beyond the host's acknowledgements (the agent's WINDOW).</summary>
    internal const int OutputWindow = 1 << 20;

    /// <summary>Credit goes back in pieces of a quarter window: a C frame per 256 KiB consumed, and the agent never runs dry.</summary>
    private const int CreditBatch = OutputWindow / 4;

    private AgentClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _frames = new FrameReader(_stream);
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Completes when the agent has said READY.</summary>
    public Task Ready => _ready.Task;

    /// <summary>When bytes last came from the agent (a Stopwatch timestamp): the guest's liveness.</summary>
    public long LastHeard => _frames.LastRead;

    /// <summary>Lines the agent reported as errors (E frames), for diagnostics.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    /// <summary>Connects to QEMU's socket for the agent's serial port, retrying until QEMU has created it.</summary>
    public static async Task<AgentClient> ConnectAsync(string socketPath, Func<bool> qemuAlive, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!qemuAlive())
                throw new InvalidOperationException("QEMU exited before its agent socket could be reached.");
            if (File.Exists(socketPath))
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new AgentClient(socket);
                }
                catch (SocketException)
                {
                    socket.Dispose();
                }
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs a shell command line in the guest; returns its exit code and merged output. With an
    /// <paramref name="output"/> callback (called in order, one call at a time, never after this returns)
    /// the output is streamed and only its last <see cref="QemuGuest.StreamedOutputTail"/> bytes are kept
    /// (<c>Truncated</c> says whether that is all of it); without one, all of it is kept.
    /// </summary>
    public async Task<(int ExitCode, string Output, bool Truncated)> RunAsync(string commandLine, Action<string>? output, CancellationToken cancellationToken)
    {
        await _ready.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var id = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var command = new RunningCommand(this, id, output);
        _running[id] = command;
        if (Volatile.Read(ref _failure) is { } failure)
            command.Exited.TrySetException(failure);        // lost before (or while) it was added
        var payload = Encoding.UTF8.GetBytes(commandLine);
        await SendAsync([.. Encoding.ASCII.GetBytes($"R {id} {payload.Length}\n"), .. payload], cancellationToken).ConfigureAwait(false);
        try
        {
            var exitCode = await command.Exited.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return (exitCode, command.Text, command.Truncated);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidDataException || command.CallbackFailed)
        {
            // Given up: the agent drops the rest of its output rather than wait for credit that will not come.
            try
            {
                await SendAsync(Encoding.ASCII.GetBytes($"K {id}\n"), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception sendFailure) when (sendFailure is IOException or SocketException or ObjectDisposedException)
            {
                // the connection is gone: so is the command; report why it was given up
            }
            throw;
        }
        finally
        {
            _running.TryRemove(id, out _);
            command.Abandon();
        }
    }

    /// <summary>Sends a ping (<c>P n</c>); its answer, like any bytes from the agent, moves <see cref="LastHeard"/>.</summary>
    public Task PingAsync(CancellationToken cancellationToken) =>
        SendAsync(Encoding.ASCII.GetBytes($"P {Interlocked.Increment(ref _pings)}\n"), cancellationToken);

    /// <summary>The guest is lost: every running command, and every later one, fails with <paramref name="reason"/>.</summary>
    public void Fail(Exception reason)
    {
        Volatile.Write(ref _failure, reason);
        foreach (var command in _running.Values)
            command.Exited.TrySetException(reason);
    }

    /// <summary>Asks the agent to end every command and exit (the guest then powers off).</summary>
    public async Task QuitAsync(TimeSpan timeout)
    {
        try
        {
            await SendAsync("Q\n"u8.ToArray(), CancellationToken.None).ConfigureAwait(false);
            await _bye.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or TimeoutException or ObjectDisposedException)
        {
            // the guest may already be gone; the caller stops QEMU either way
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Shutdown(SocketShutdown.Both);
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        foreach (var command in _running.Values)
            command.Exited.TrySetException(new IOException("The guest agent connection closed."));
        _sendLock.Dispose();
        _stop.Dispose();
    }

    /// <summary>Returns output credit for a command; a closed connection fails the command elsewhere.</summary>
    private async Task SendCreditAsync(string id, int bytes)
    {
        try
        {
            await SendAsync(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"C {id} {bytes}\n")), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task SendAsync(byte[] frame, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = _frames;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var line = await reader.ReadLineAsync(_stop.Token).ConfigureAwait(false);
                if (line is null)
                    break;
                var parts = line.Split(' ', 3);
                switch (parts[0])
                {
                    case "READY":
                        _ready.TrySetResult();
                        break;
                    case "O" when parts.Length == 3 && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var length) && length is >= 0 and <= 1 << 20:
                        var bytes = ArrayPool<byte>.Shared.Rent(length);
                        await reader.ReadExactlyAsync(bytes.AsMemory(0, length), _stop.Token).ConfigureAwait(false);
                        if (_running.TryGetValue(parts[1], out var running))
                            running.Receive(bytes, length);     // its consumer returns the buffer
                        else
                            ArrayPool<byte>.Shared.Return(bytes);
                        break;
                    case "X" when parts.Length == 3 && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var code):
                        if (_running.TryGetValue(parts[1], out var ended))
                            ended.Exit(code);
                        break;
                    case "BYE":
                        _bye.TrySetResult();
                        break;
                    case "E":
                        Errors.Enqueue(line);
                        break;
                    default:
                        break;      // boot noise before READY, answers to pings
                }
            }
        }
        finally
        {
            var closed = new IOException("The guest agent connection closed (did the guest stop?).");
            _ready.TrySetException(closed);
            _bye.TrySetResult();
            foreach (var command in _running.Values)
                command.Exited.TrySetException(closed);
        }
    }

    /// <summary>
    /// One command's output. The read loop hands each frame over (<see cref="Receive"/>) and moves on; a
    /// consumer task decodes it, calls the callback, keeps what is retained and returns credit. Frames
    /// in flight are bounded by the window (checked here: a guest that ignores it fails the command).
    /// </summary>
    private sealed class RunningCommand
    {
        private readonly AgentClient _client;
        private readonly string _id;
        private readonly Action<string>? _output;
        private readonly Channel<(byte[] Buffer, int Length)> _frames =
            Channel.CreateUnbounded<(byte[], int)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly Lock _lock = new();
        private long _received, _granted;       // under _lock: payload bytes received, credit sent (both since R)
        private int _unacknowledged;            // consumer only: consumed bytes not yet credited
        private int _exitCode;
        private volatile bool _abandoned;

        // What Output holds: everything without a callback, else the last StreamedOutputTail bytes (a ring).
        private readonly ArrayBufferWriter<byte>? _all;
        private readonly byte[]? _tail;
        private long _total;

        // A decoder keeps the first bytes of a character split between frames until the rest arrives.
        private readonly Decoder _streamDecoder = Encoding.UTF8.GetDecoder();

        public RunningCommand(AgentClient client, string id, Action<string>? output)
        {
            _client = client;
            _id = id;
            _output = output;
            if (output is null)
                _all = new ArrayBufferWriter<byte>();
            else
                _tail = new byte[QemuGuest.StreamedOutputTail];
            _ = Task.Run(ConsumeAsync);
        }

        /// <summary>Completes when the command has exited and its output has been delivered.</summary>
        public TaskCompletionSource<int> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The output callback threw (its exception is <see cref="Exited"/>'s).</summary>
        public bool CallbackFailed { get; private set; }

        /// <summary>Output holds only the end of the output.</summary>
        public bool Truncated => _tail is not null && _total > _tail.Length;

        /// <summary>The retained output (read after <see cref="Exited"/> completed).</summary>
        public string Text
        {
            get
            {
                if (_all is not null)
                    return Encoding.UTF8.GetString(_all.WrittenSpan);
                var tail = _tail!;
                if (_total <= tail.Length)
                    return Encoding.UTF8.GetString(tail, 0, (int)_total);
                var start = (int)(_total % tail.Length);
                var bytes = new byte[tail.Length];
                tail.AsSpan(start).CopyTo(bytes);
                tail.AsSpan(0, start).CopyTo(bytes.AsSpan(tail.Length - start));
                // Cut at a character boundary: skip the continuation bytes of a character whose start fell off.
                var skip = 0;
                while (skip < 3 && (bytes[skip] & 0xc0) == 0x80)
                    skip++;
                return Encoding.UTF8.GetString(bytes, skip, bytes.Length - skip);
            }
        }

        /// <summary>From the read loop: takes ownership of a pooled buffer holding one frame's payload.</summary>
        public void Receive(byte[] buffer, int length)
        {
            bool overrun;
            lock (_lock)
            {
                _received += length;
                overrun = _received > OutputWindow + _granted;
            }
            if (overrun)
                Exited.TrySetException(new InvalidDataException(
                    $"The guest agent sent command {_id} more output than its window allows ({OutputWindow} bytes beyond the host's credit)."));
            if (overrun || _abandoned || !_frames.Writer.TryWrite((buffer, length)))
                ArrayPool<byte>.Shared.Return(buffer);
        }

        /// <summary>From the read loop: the X frame, which follows all of the command's output.</summary>
        public void Exit(int code)
        {
            _exitCode = code;
            _frames.Writer.TryComplete();
        }

        /// <summary>RunAsync has returned: no more callbacks; frames still queued or arriving are dropped.</summary>
        public void Abandon()
        {
            _abandoned = true;
            _frames.Writer.TryComplete();
        }

        private async Task ConsumeAsync()
        {
            var reader = _frames.Reader;
            try
            {
                while (await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (reader.TryRead(out var frame))
                    {
                        try
                        {
                            if (!_abandoned)
                                Deliver(frame.Buffer.AsSpan(0, frame.Length), flush: false);
                        }
                        finally
                        {
                            ArrayPool<byte>.Shared.Return(frame.Buffer);
                        }
                        await AcknowledgeAsync(frame.Length).ConfigureAwait(false);
                    }
                }
                if (!_abandoned)
                    Deliver([], flush: true);
                Exited.TrySetResult(_exitCode);
            }
            catch (Exception e)
            {
                CallbackFailed = true;
                Exited.TrySetException(e);
                Abandon();
                while (reader.TryRead(out var frame))
                    ArrayPool<byte>.Shared.Return(frame.Buffer);
            }
        }

        private void Deliver(ReadOnlySpan<byte> bytes, bool flush)
        {
            if (_all is not null)
            {
                _all.Write(bytes);
                return;
            }
            Retain(bytes);
            var characters = ArrayPool<char>.Shared.Rent(CallbackChars + 4);
            try
            {
                // In slices: a 64 KiB frame as one string would be a large-object allocation (and gen 2 collections) per frame.
                do
                {
                    var slice = bytes[..Math.Min(bytes.Length, CallbackChars)];     // decodes to at most CallbackChars + 2 characters
                    bytes = bytes[slice.Length..];
                    var count = _streamDecoder.GetChars(slice, characters, flush && bytes.IsEmpty);
                    if (count > 0)
                        _output!(new string(characters, 0, count));
                }
                while (!bytes.IsEmpty);
            }
            finally
            {
                ArrayPool<char>.Shared.Return(characters);
            }
        }

        /// <summary>Bytes decoded per callback string: its 32 KiB stay below the large-object threshold (85,000 bytes).</summary>
        private const int CallbackChars = 16 * 1024;

        private void Retain(ReadOnlySpan<byte> bytes)
        {
            var tail = _tail!;
            if (bytes.Length >= tail.Length)
            {
                // Only the end survives; lay it out as if written from _total onwards.
                _total += bytes.Length - tail.Length;
                bytes = bytes[^tail.Length..];
            }
            while (!bytes.IsEmpty)
            {
                var at = (int)(_total % tail.Length);
                var n = Math.Min(bytes.Length, tail.Length - at);
                bytes[..n].CopyTo(tail.AsSpan(at));
                bytes = bytes[n..];
                _total += n;
            }
        }

        /// <summary>Returns credit for consumed bytes, a quarter window at a time.</summary>
        private async Task AcknowledgeAsync(int bytes)
        {
            _unacknowledged += bytes;
            if (_unacknowledged < CreditBatch || _abandoned)
                return;
            var credit = _unacknowledged;
            _unacknowledged = 0;
            lock (_lock)
                _granted += credit;     // before the agent can see it, so a frame it sends in reply is within the window
            await _client.SendCreditAsync(_id, credit).ConfigureAwait(false);
        }
    }

    /// <summary>Reads header lines and exact-length payloads from the agent's byte stream.</summary>
    private sealed class FrameReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start, _end;
        private long _lastRead = System.Diagnostics.Stopwatch.GetTimestamp();

        /// <summary>When bytes last arrived (a Stopwatch timestamp), whatever frame they belong to.</summary>
        public long LastRead => Volatile.Read(ref _lastRead);

        public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    var line = Encoding.UTF8.GetString(_buffer, _start, newline - _start).TrimEnd('\r');
                    _start = newline + 1;
                    return line;
                }
                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                    return null;
            }
        }

        public async Task ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            var take = Math.Min(destination.Length, _end - _start);
            _buffer.AsMemory(_start, take).CopyTo(destination);
            _start += take;
            destination = destination[take..];
            // The rest of a large payload goes straight from the socket to its buffer, without a copy.
            while (!destination.IsEmpty)
            {
                var read = await stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    throw new EndOfStreamException("The guest agent connection closed inside a frame.");
                destination = destination[read..];
            }
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
                throw new InvalidDataException("The guest agent sent a header line longer than 64 KiB.");
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read > 0)
                Volatile.Write(ref _lastRead, System.Diagnostics.Stopwatch.GetTimestamp());
            _end += read;
            return read > 0;
        }
    }
}
