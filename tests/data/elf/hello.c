#include <stdio.h>
struct point { int x, y; const char *label; };
static int area(struct point a, struct point b) { return (b.x - a.x) * (b.y - a.y); }
int main(int argc, char **argv) {
    struct point a = {0, 0, "origin"}, b = {argc, argc * 2, argv[0]};
    printf("%s %d\n", b.label, area(a, b));
    return 0;
}
