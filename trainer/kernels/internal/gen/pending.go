package main

func genNEON(out map[string][]byte) {}
func genVec(out map[string][]byte)  {}
