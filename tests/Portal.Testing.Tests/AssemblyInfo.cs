using Microsoft.VisualStudio.TestTools.UnitTesting;

// Each test class owns one guest; tests inside a class run one at a time.
[assembly: Parallelize(Scope = ExecutionScope.ClassLevel, Workers = 0)]
