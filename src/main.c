/* main.c - moat's entry point (placeholder while the core lands). */
#include <stdio.h>

int main(void)
{
    puts("moat " MOAT_VERSION);
    return 0;
}
