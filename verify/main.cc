// offboard-verify: the regulator's offline verifier. Links common/ only.
#include "verify/cli/verify_cli.h"

int main(int argc, char** argv) { return offboard::verify::RunVerifyCli(argc, argv); }
