// Boost.JSON is used header-only: its implementation is compiled here, in exactly one
// translation unit of the program (every other file includes <boost/json.hpp>).
#include <boost/json/src.hpp>
