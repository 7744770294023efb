// Builds tests/CMakeLists.txt's precompiled header (ferry_test_pch); never run.
int main() { return 0; }
