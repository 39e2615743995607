/* A fake libcublasLt for tests: only there to be loaded before cuBLAS. */
int fake_cublaslt_loaded(void) { return 1; }
