using System.Threading.Tasks.Sources;

namespace Portal.Memory.Batching;

/// <summary>
/// The ValueTask side of an operation for one result type. Waiting is the same for every operation
/// (<see cref="AwaitedOperation.Status"/>, <see cref="AwaitedOperation.Register"/>), so it is written
/// once here; an operation writes only <c>GetResult</c>, how it turns its bytes into a
/// <typeparamref name="T"/>.
/// </summary>
internal interface IOperationResult<T> : IValueTaskSource<T>
{
    /// <summary>See <see cref="AwaitedOperation.Status"/>.</summary>
    ValueTaskSourceStatus Status(short token);

    /// <summary>See <see cref="AwaitedOperation.Register"/>.</summary>
    void Register(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags);

    ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => Status(token);

    void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        Register(continuation, state, token, flags);
}

/// <summary>The same for an operation awaited without a result (<see cref="ValueTask"/>).</summary>
internal interface IOperationResult : IValueTaskSource
{
    /// <summary>See <see cref="AwaitedOperation.Status"/>.</summary>
    ValueTaskSourceStatus Status(short token);

    /// <summary>See <see cref="AwaitedOperation.Register"/>.</summary>
    void Register(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => Status(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        Register(continuation, state, token, flags);
}
