// Portal benchmarks.
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- guest [--abi NAME|all]   guest-side costs on real guests (medians)
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- filters [--abi NAME|all]   what each guest-side filter kind adds to a filtered-out call
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- firmware [--abi NAME] [--rootfs PATH]   rehosting a firmware: image, boot, handled boot
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- soak [--cpus N] [--events N] [--noise K]   long sequence-checked run
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- introspection [--abi NAME|all]   process list (as booted and 200 in all), maps, fds, a procfs file
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- event-cpu  host CPU at 1, 15, 100, 1,000 and max events/s
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- [BenchmarkDotNet arguments, e.g. --filter *Exchange*]
using BenchmarkDotNet.Running;
using Portal.Benchmarks;

if (args is ["guest", .. var guestArguments])
    return await GuestCosts.RunAsync(guestArguments);
if (args is ["filters", .. var filterArguments])
    return await FilterCosts.RunAsync(filterArguments);
if (args is ["firmware", .. var firmwareArguments])
    return await FirmwareCosts.RunAsync(firmwareArguments);
if (args is ["soak", .. var soakArguments])
    return await Soak.RunAsync(soakArguments);
if (args is ["introspection", .. var introspectionArguments])
    return await IntrospectionCosts.RunAsync(introspectionArguments);
if (args is ["event-cpu", ..])
    return await Soak.EventCpuAsync();
BenchmarkSwitcher.FromAssembly(typeof(ExchangeBenchmarks).Assembly).Run(args);
return 0;
