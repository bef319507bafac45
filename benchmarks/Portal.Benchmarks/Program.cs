// Portal benchmarks.
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- guest     guest-side costs on the real guest (medians)
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- [BenchmarkDotNet arguments, e.g. --filter *Exchange*]
using BenchmarkDotNet.Running;
using Portal.Benchmarks;

if (args is ["guest", ..])
    return await GuestCosts.RunAsync();
BenchmarkSwitcher.FromAssembly(typeof(ExchangeBenchmarks).Assembly).Run(args);
return 0;
